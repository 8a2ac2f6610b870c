// `dunning import <file.csv>`: accounts, contacts and invoices → one open plan per account.
// Rows stream through validation into one transaction; one bad row (reported with its line
// number) writes nothing. Memory stays flat whatever the file's size.
// Importing the same file again changes nothing: invoices are keyed by number per account and
// an account's open plan takes new invoices instead of a second plan being made.
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { TextDecoder } from 'node:util';
import { CsvError, parse } from 'csv-parse';
import type postgres from 'postgres';
import { z } from 'zod';
import { isValidTimeZone } from '../workflows/domain/calendar';
import type { Database } from '../db/connection';
import { closedPlanStatuses } from '../workflows/domain/statuses';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';
import { currencyDigits, parseMoney } from '../workflows/domain/money';
import { riskScoreRule, SEGMENT_PATTERN, segmentRule } from '../db/segmentation';

const requiredColumns = [
  'account_id',
  'account_name',
  'contact_name',
  'contact_email',
  'timezone',
  'currency',
  'invoice_number',
  'amount',
  'issued_on',
  'due_on',
] as const;

/**
 * Remembers a check's answer per distinct value: files repeat a few locales and dates many
 * times. Forgets everything past `limit` values, so a file of made-up ones cannot grow it.
 */
function memoized(check: (text: string) => boolean, limit: number): (text: string) => boolean {
  const seen = new Map<string, boolean>();
  return (text) => {
    let answer = seen.get(text);
    if (answer === undefined) {
      answer = check(text);
      if (seen.size > limit) seen.clear();
      seen.set(text, answer);
    }
    return answer;
  };
}

const isLocale = memoized((tag) => {
  try {
    return Intl.getCanonicalLocales(tag).length === 1 && Intl.NumberFormat.supportedLocalesOf(tag).length === 1;
  } catch {
    return false;
  }
}, 1_000);

const isRealDate = memoized((text) => {
  // PostgreSQL has no year 0; the COPY would refuse it.
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || text.startsWith('0000')) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}, 10_000);

/** Text a person typed as an id or a name: trimmed, bounded, no control characters. */
const plain = (name: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, `${name} is empty`)
    .max(max, `${name} is longer than ${max} characters`)
    // PostgreSQL stores no NUL (and the COPY would fail on one); the rest garble mail and logs.
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), `${name} must not contain control characters`);

/** The characters of an id the engine makes others from, and names in URL paths. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@+-]*$/;

/**
 * The rules a field of an account, contact or invoice must meet, with the sentence that refuses
 * it. `name` is how the caller names the field: a CSV column, or a JSON path for the HTTP API's
 * composite create, so both doors apply the same rules in the same words.
 */
export const fieldRules = {
  id: (name: string) => plain(name, 200),
  /** An id the engine makes a plan's id from: one a URL path can carry. */
  key: (name: string) => plain(name, 200).regex(ID_PATTERN, `${name} may hold letters, digits and - _ . : @ + only`),
  name: (name: string) => plain(name, 500),
  email: (name: string) => z.string().trim().max(320, `${name} is longer than 320 characters`).email(`${name} is not an email address`),
  timezone: (name: string) => z.string().trim().refine(isValidTimeZone, `${name} is not an IANA time zone like Europe/Berlin`),
  currency: (name: string) =>
    z
      .string()
      .trim()
      .refine((c) => currencyDigits(c) !== undefined, `${name} is not an ISO 4217 code like USD or EUR`),
  date: (name: string) => z.string().trim().refine(isRealDate, `${name} is not a real date (YYYY-MM-DD)`),
  locale: (name: string) => z.string().trim().refine(isLocale, `${name} is not a language tag like en-US or de-DE`),
  consent: (name: string) => z.enum(['opted_in', 'opted_out'], { message: `${name} must be opted_in or opted_out` }),
  /** The account's segment, which segmentation rules match exactly. */
  segment: (name: string) => z.string().trim().regex(SEGMENT_PATTERN, `${name} ${segmentRule}`),
  /** The account's risk score, a number in JSON. */
  riskScore: (name: string) => z.number(`${name} ${riskScoreRule}`).int(`${name} ${riskScoreRule}`).min(0, `${name} ${riskScoreRule}`).max(100, `${name} ${riskScoreRule}`),
  /** The account's risk score as a CSV cell holds it: the same rule, in the same words. */
  riskScoreText: (name: string) =>
    z
      .string()
      .trim()
      .regex(/^\d{1,3}$/, `${name} ${riskScoreRule}`)
      .transform(Number)
      .pipe(z.number().max(100, `${name} ${riskScoreRule}`)),
};

const blankIsMissing = (v: string | undefined) => (v === '' ? undefined : v);

const rowSchema = z
  .object({
    account_id: fieldRules.id('account_id'),
    account_name: fieldRules.name('account_name'),
    contact_name: fieldRules.name('contact_name'),
    contact_email: fieldRules.email('contact_email'),
    timezone: fieldRules.timezone('timezone'),
    currency: fieldRules.currency('currency'),
    invoice_number: fieldRules.id('invoice_number'),
    amount: z.string().trim(),
    issued_on: fieldRules.date('issued_on'),
    due_on: fieldRules.date('due_on'),
    locale: z.string().trim().optional().transform(blankIsMissing).pipe(fieldRules.locale('locale').optional()),
    email_consent: z.string().trim().optional().transform(blankIsMissing).pipe(fieldRules.consent('email_consent').optional()),
    segment: z.string().trim().optional().transform(blankIsMissing).pipe(fieldRules.segment('segment').optional()),
    risk_score: z.string().trim().optional().transform(blankIsMissing).pipe(fieldRules.riskScoreText('risk_score').optional()),
  })
  .refine((r) => r.due_on >= r.issued_on, { message: 'due_on is before issued_on' });

export interface ImportResult {
  rows: number;
  accounts: number;
  invoicesAdded: number;
  plans: Array<{ planId: string; accountId: string; created: boolean; items: number }>;
}

export interface ParsedRow {
  line: number;
  accountId: string;
  accountName: string;
  contactName: string;
  contactEmail: string;
  timezone: string;
  currency: string;
  invoiceNumber: string;
  amountMinor: number;
  issuedOn: string;
  dueOn: string;
  emailConsent?: 'opted_in' | 'opted_out';
  locale?: string;
  /** The account's segment and risk score; a row without them leaves the account's as they are. */
  segment?: string;
  riskScore?: number;
}

/** What `importCsv` reads: the file's bytes, as one piece or streamed in chunks. */
export type CsvSource = string | Buffer | AsyncIterable<Buffer | string>;

/**
 * Parses and validates a CSV as it streams, yielding one row at a time; throws DunningError
 * naming the first bad line. Checks that span rows (one account, one currency) are made by
 * the database once the rows are staged, so memory does not grow with the file.
 */
export async function* parseImportCsv(source: CsvSource): AsyncGenerator<ParsedRow> {
  const parser = parse({
    columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
    skip_empty_lines: true,
    bom: true,
    // The line a record ends on, for error messages (lighter than `info`, which copies more).
    on_record: (record: Record<string, string>, context: { lines: number }) => ({ record, line: context.lines }),
  });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const chunks = typeof source === 'string' || Buffer.isBuffer(source) ? [source] : source;
  const decoded = async function* () {
    for await (const chunk of chunks) yield typeof chunk === 'string' ? chunk : decodeUtf8(decoder, chunk, true);
    const tail = decodeUtf8(decoder, new Uint8Array(), false);
    if (tail) yield tail;
  };
  // The pipeline reports a failure of the file or the decoder through the parser's iterator.
  pipeline(Readable.from(decoded()), parser).catch(() => {});
  let rows = 0;
  try {
    for await (const { record, line } of parser as AsyncIterable<{ record: Record<string, string>; line: number }>) {
      if (rows === 0) {
        const header = Object.keys(record);
        const missing = requiredColumns.filter((c) => !header.includes(c));
        if (missing.length > 0) throw new DunningError(`The CSV header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`, 'invalid');
      }
      rows++;
      yield validateRow(record, line);
    }
  } catch (err) {
    if (err instanceof DunningError) throw err;
    if (err instanceof CsvError) throw new DunningError(`The CSV cannot be read: ${err.message.replace(/\.$/, '')}.`, 'invalid');
    throw err;
  } finally {
    parser.destroy();
  }
  if (rows === 0) throw new DunningError('The CSV has no data rows.', 'invalid');
}

function validateRow(record: Record<string, string>, line: number): ParsedRow {
  for (const [column, value] of Object.entries(record)) {
    // PostgreSQL stores no NUL in text: refuse it here with the line, not there with a code.
    if (value.includes('\u0000')) throw new DunningError(`Line ${line}: ${column} contains a NUL character.`, 'invalid');
  }
  const parsed = rowSchema.safeParse(record);
  if (!parsed.success) throw new DunningError(`Line ${line}: ${parsed.error.issues[0]!.message}.`, 'invalid');
  const r = parsed.data;
  const amount = parseMoney(r.amount, r.currency);
  if (!amount.ok) throw new DunningError(`Line ${line}: amount ${amount.reason}.`, 'invalid');
  if (amount.minor <= 0) throw new DunningError(`Line ${line}: amount must be more than zero.`, 'invalid');
  return {
    line,
    accountId: r.account_id,
    accountName: r.account_name,
    contactName: r.contact_name,
    contactEmail: r.contact_email.toLowerCase(),
    timezone: r.timezone,
    currency: r.currency.toUpperCase(),
    invoiceNumber: r.invoice_number,
    amountMinor: amount.minor,
    issuedOn: r.issued_on,
    dueOn: r.due_on,
    emailConsent: r.email_consent,
    locale: r.locale,
    segment: r.segment,
    riskScore: r.risk_score,
  };
}

function decodeUtf8(decoder: TextDecoder, bytes: Uint8Array, stream: boolean): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch {
    throw new DunningError('The CSV is not valid UTF-8 text.', 'invalid');
  }
}

/** Imports a CSV file (see the top of this file); nothing is written unless every row is good. */
export function importCsv({ db }: DatabaseContext, input: { source: CsvSource }): Promise<ImportResult> {
  return importRows(db, parseImportCsv(input.source));
}

/** COPY's text format: tab-separated, \N for null, backslash escapes. */
function copyField(value: string | number | undefined): string {
  if (value === undefined) return '\\N';
  return String(value).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}

function copyLine(r: ParsedRow): string {
  return (
    [r.line, r.accountId, r.accountName, r.contactName, r.contactEmail, r.timezone, r.currency, r.invoiceNumber, r.amountMinor, r.issuedOn, r.dueOn, r.emailConsent, r.locale, r.segment, r.riskScore]
      .map(copyField)
      .join('\t') + '\n'
  );
}

const COPY_CHUNK = 256 * 1024; // characters per write to PostgreSQL's COPY stream

/**
 * Writes validated rows in one transaction: they stream into a temporary table with COPY, the
 * checks that span rows run there as queries, and set-based statements merge them into the
 * accounts, contacts, invoices and plans. A file of any size is a handful of statements, and
 * one bad row (or a failed check) rolls everything back.
 */
export async function importRows(
  db: Database,
  rows: Iterable<ParsedRow> | AsyncIterable<ParsedRow>,
  opts: { where?: (line: number) => string } = {},
): Promise<ImportResult> {
  return db.$client.begin(async (tx) => {
    await tx`create temp table import_rows (
      line int not null, account_id text not null, account_name text not null, contact_name text not null,
      contact_email text not null, timezone text not null, currency text not null, invoice_number text not null,
      amount_minor bigint not null, issued_on date not null, due_on date not null, email_consent text, locale text,
      segment text, risk_score int
    ) on commit drop`;
    // The de-duplicating sorts below hold a whole file's keys: let them sort in memory.
    await tx`set local work_mem = '64MB'`;
    const query = tx`copy import_rows from stdin`;
    const refused = copyRefusal(query);
    const copy = await query.writable();
    let copyError: Error | undefined; // e.g. the connection dropped: reported below, not left unhandled
    copy.on('error', (err: Error) => (copyError = err));
    let count = 0;
    try {
      let buffer = '';
      for await (const row of rows) {
        buffer += copyLine(row);
        count++;
        if (buffer.length >= COPY_CHUNK) {
          if (copyError) throw copyError;
          if (!copy.write(buffer)) await once(copy, 'drain');
          buffer = '';
        }
      }
      copy.end(buffer);
      await Promise.race([finished(copy), refused]);
    } catch (err) {
      copy.destroy();
      throw err;
    }
    const result: ImportResult = { rows: count, accounts: 0, invoicesAdded: 0, plans: [] };
    if (count === 0) return result;

    // An account's first row names it; an invoice's first row gives its amount and dates.
    await tx`create temp table import_accounts on commit drop as
      select distinct on (account_id) * from import_rows order by account_id, line`;
    await tx`create temp table import_invoices on commit drop as
      select distinct on (account_id, invoice_number) * from import_rows order by account_id, invoice_number, line`;
    await refuseConflicts(tx, opts.where ?? ((line) => `Line ${line}`));

    const [accountCount] = await tx<Array<{ n: number }>>`with upserted as (
      insert into accounts (id, name, timezone, currency, locale)
      select account_id, account_name, timezone, currency, coalesce(locale, 'en-US') from import_accounts
      -- A row without a locale keeps the account's locale.
      on conflict (id) do update set name = excluded.name, timezone = excluded.timezone, updated_at = now()
      returning 1) select count(*)::int as n from upserted`;
    result.accounts = accountCount!.n;
    await tx`update accounts a set locale = i.locale from import_accounts i
      where a.id = i.account_id and i.locale is not null and a.locale <> i.locale`;
    // Segment and risk score: the value any of the account's rows gives (they agree, see
    // refuseConflicts); rows that give none leave the account's as it is.
    await tx`update accounts a set segment = coalesce(g.segment, a.segment), risk_score = coalesce(g.risk_score, a.risk_score)
      from (select account_id, max(segment) as segment, max(risk_score) as risk_score from import_rows
        where segment is not null or risk_score is not null group by account_id) g
      where a.id = g.account_id and (a.segment, a.risk_score) is distinct from (coalesce(g.segment, a.segment), coalesce(g.risk_score, a.risk_score))`;

    // One contact per account and address; the first one in the file is the primary contact.
    // Consent changes only when the file says so (the column is optional).
    await tx`insert into contacts (account_id, name, email, email_consent, is_primary, consent_changed_at)
      select distinct on (r.account_id, r.contact_email)
        r.account_id, r.contact_name, r.contact_email, coalesce(r.email_consent, 'opted_in'),
        r.contact_email = a.contact_email, case when r.email_consent is null then null else now() end
      from import_rows r join import_accounts a using (account_id)
      order by r.account_id, r.contact_email, r.line
      on conflict (account_id, email) do update set
        name = excluded.name,
        email_consent = case when excluded.consent_changed_at is null then contacts.email_consent else excluded.email_consent end,
        consent_changed_at = case when excluded.consent_changed_at is null or excluded.email_consent = contacts.email_consent
          then contacts.consent_changed_at else now() end`;

    const [added] = await tx<Array<{ n: number }>>`with inserted as (
      insert into invoices (account_id, number, amount_minor, open_minor, currency, issued_on, due_on)
      select account_id, invoice_number, amount_minor, amount_minor, currency, issued_on, due_on from import_invoices
      on conflict (account_id, number) do nothing
      returning 1) select count(*)::int as n from inserted`;
    result.invoicesAdded = added!.n;

    // The account's open plan takes the file's open invoices; a new plan is made only when
    // there is something open to collect.
    const closed = [...closedPlanStatuses];
    await tx`with open_plans as (
        select p.account_id from collection_plans p join import_accounts a using (account_id) where p.status not in ${tx(closed)}
      ), need as (
        select distinct i.account_id from import_invoices r
        join invoices i on i.account_id = r.account_id and i.number = r.invoice_number
        where i.open_minor > 0 and i.account_id not in (select account_id from open_plans)
      ), earlier as (
        select account_id, count(*)::int as n from collection_plans join need using (account_id) group by account_id
      )
      insert into collection_plans (id, account_id, currency)
      select case when coalesce(e.n, 0) = 0 then 'plan-' || need.account_id else 'plan-' || need.account_id || '-' || (e.n + 1) end,
        need.account_id, a.currency
      from need join import_accounts a using (account_id) left join earlier e using (account_id)`;
    await tx`insert into collection_plan_items (plan_id, invoice_id)
      select p.id, i.id from import_invoices r
      join invoices i on i.account_id = r.account_id and i.number = r.invoice_number
      join collection_plans p on p.account_id = i.account_id and p.status not in ${tx(closed)}
      where i.open_minor > 0
      on conflict do nothing`;
    // now() is the transaction's start: a plan created at it was made by this import.
    const plans = await tx<Array<{ planId: string; accountId: string; created: boolean; items: number }>>`
      select p.id as "planId", p.account_id as "accountId", p.created_at = now() as created,
        (select count(*)::int from collection_plan_items ci where ci.plan_id = p.id) as items
      from import_accounts a join collection_plans p on p.account_id = a.account_id and p.status not in ${tx(closed)}
      order by a.line`;
    result.plans = [...plans];
    return result;
  }) as Promise<ImportResult>;
}

/**
 * The server's refusal of a COPY, as a promise that rejects with it. postgres.js settles the
 * COPY's stream only when the COPY succeeds: one the server refuses after the last write leaves
 * `finished` pending for ever, its transaction open and its connection lost (porsager/postgres
 * #1173). The refusal still reaches the query's `reject`, so it is taken from there.
 */
function copyRefusal(query: object): Promise<never> {
  const q = query as { reject: (err: unknown) => void };
  const reject = q.reject;
  const refused = new Promise<never>((_, fail) => {
    q.reject = (err) => {
      fail(err);
      reject(err);
    };
  });
  refused.catch(() => {}); // awaited only once the rows are written; a refusal mid-stream surfaces as the stream's error
  return refused;
}

/** The checks that span rows or meet existing data; the first failing line, in file order, is reported. */
async function refuseConflicts(tx: postgres.TransactionSql, where: (line: number) => string): Promise<void> {
  const inFile = await tx<Array<{ line: number; message: string }>>`
    (select r.line, 'account ' || r.account_id || ' has a different name, time zone or currency than on line ' || a.line as message
      from import_rows r join import_accounts a using (account_id)
      where (r.account_name, r.timezone, r.currency) is distinct from (a.account_name, a.timezone, a.currency)
      order by r.line limit 1)
    union all
    (select r.line, 'invoice ' || r.invoice_number || ' appears on line ' || i.line || ' with a different amount or dates'
      from import_rows r join import_invoices i using (account_id, invoice_number)
      where (r.amount_minor, r.due_on, r.issued_on) is distinct from (i.amount_minor, i.due_on, i.issued_on)
      order by r.line limit 1)
    union all
    -- Blank is "not given": the rows that give a segment (or a risk score) must agree with the first that does.
    (select r.line, 'account ' || r.account_id || ' has a different segment than on line ' || f.line as message
      from import_rows r join (select distinct on (account_id) account_id, line, segment from import_rows
        where segment is not null order by account_id, line) f using (account_id)
      where r.segment <> f.segment order by r.line limit 1)
    union all
    (select r.line, 'account ' || r.account_id || ' has a different risk score than on line ' || f.line as message
      from import_rows r join (select distinct on (account_id) account_id, line, risk_score from import_rows
        where risk_score is not null order by account_id, line) f using (account_id)
      where r.risk_score <> f.risk_score order by r.line limit 1)
    order by line limit 1`;
  // An existing account keeps its currency (its invoices and plans are in it); an existing
  // invoice keeps its amount and due date.
  const existing = inFile.length
    ? inFile
    : await tx<Array<{ line: number; message: string }>>`
    (select a.line, 'account ' || a.account_id || ' already exists in ' || e.currency || ', not ' || a.currency as message
      from import_accounts a join accounts e on e.id = a.account_id
      where e.currency <> a.currency order by a.line limit 1)
    union all
    (select r.line, 'invoice ' || r.invoice_number || ' of account ' || r.account_id || ' already exists with a different amount or due date'
      from import_invoices r join invoices i on i.account_id = r.account_id and i.number = r.invoice_number
      where i.amount_minor <> r.amount_minor or i.due_on <> r.due_on order by r.line limit 1)
    order by line limit 1`;
  const [first] = existing;
  if (first) throw new DunningError(`${where(first.line)}: ${first.message}.`, 'invalid');
}
