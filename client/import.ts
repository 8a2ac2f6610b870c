// `dunning import <file.csv>`: accounts, contacts and invoices → one open plan per account.
// The whole file is validated first; one bad row (reported with its line number) writes nothing.
// Importing the same file again changes nothing: invoices are keyed by number per account and
// an account's open plan takes new invoices instead of a second plan being made.
import { parse } from 'csv-parse/sync';
import { and, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { isValidTimeZone } from '../activities/calendar';
import type { Database } from '../db/connection';
import { accounts, collectionPlanItems, collectionPlans, contacts, invoices } from '../db/schema';
import { closedPlanStatuses } from '../workflows/messages';
import { DunningError } from './dunning';
import { currencyDigits, parseMoney } from '../activities/money';

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

function isLocale(tag: string): boolean {
  try {
    return Intl.getCanonicalLocales(tag).length === 1 && Intl.NumberFormat.supportedLocalesOf(tag).length === 1;
  } catch {
    return false;
  }
}

function isRealDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

const rowSchema = z
  .object({
    account_id: z.string().trim().min(1, 'account_id is empty').max(200),
    account_name: z.string().trim().min(1, 'account_name is empty'),
    contact_name: z.string().trim().min(1, 'contact_name is empty'),
    contact_email: z.string().trim().email('contact_email is not an email address'),
    timezone: z.string().trim().refine(isValidTimeZone, 'timezone is not an IANA time zone like Europe/Berlin'),
    currency: z
      .string()
      .trim()
      .refine((c) => currencyDigits(c) !== undefined, 'currency is not an ISO 4217 code like USD or EUR'),
    invoice_number: z.string().trim().min(1, 'invoice_number is empty').max(200),
    amount: z.string().trim(),
    issued_on: z.string().trim().refine(isRealDate, 'issued_on is not a real date (YYYY-MM-DD)'),
    due_on: z.string().trim().refine(isRealDate, 'due_on is not a real date (YYYY-MM-DD)'),
    locale: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v === '' ? undefined : v))
      .refine((v) => v === undefined || isLocale(v), 'locale is not a language tag like en-US or de-DE'),
    email_consent: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v === '' ? undefined : v))
      .pipe(z.enum(['opted_in', 'opted_out'], { message: 'email_consent must be opted_in or opted_out' }).optional()),
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
}

/** Parses and validates the whole CSV; throws DunningError naming the first bad line. */
export function parseImportCsv(content: Buffer | string): ParsedRow[] {
  const text = typeof content === 'string' ? content : decodeUtf8(content);
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  try {
    records = parse(text, { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, info: true, bom: true });
  } catch (err) {
    throw new DunningError(`The CSV cannot be read: ${(err as Error).message.replace(/\.$/, '')}.`, 'invalid');
  }
  if (records.length === 0) throw new DunningError('The CSV has no data rows.', 'invalid');
  const header = Object.keys(records[0]!.record);
  const missing = requiredColumns.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new DunningError(`The CSV header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`, 'invalid');

  const rows: ParsedRow[] = [];
  const accountsSeen = new Map<string, ParsedRow>();
  const invoicesSeen = new Map<string, ParsedRow>();
  for (const { record, info } of records) {
    const line = info.lines;
    const parsed = rowSchema.safeParse(record);
    if (!parsed.success) throw new DunningError(`Line ${line}: ${parsed.error.issues[0]!.message}.`, 'invalid');
    const r = parsed.data;
    const amount = parseMoney(r.amount, r.currency);
    if (!amount.ok) throw new DunningError(`Line ${line}: amount ${amount.reason}.`, 'invalid');
    if (amount.minor <= 0) throw new DunningError(`Line ${line}: amount must be more than zero.`, 'invalid');
    const row: ParsedRow = {
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
    };
    const first = accountsSeen.get(row.accountId);
    if (first && (first.currency !== row.currency || first.timezone !== row.timezone || first.accountName !== row.accountName)) {
      throw new DunningError(`Line ${line}: account ${row.accountId} has a different name, time zone or currency than on line ${first.line}.`, 'invalid');
    }
    accountsSeen.set(row.accountId, first ?? row);
    const invoiceKey = `${row.accountId}\u0000${row.invoiceNumber}`;
    const twin = invoicesSeen.get(invoiceKey);
    if (twin && (twin.amountMinor !== row.amountMinor || twin.dueOn !== row.dueOn || twin.issuedOn !== row.issuedOn)) {
      throw new DunningError(`Line ${line}: invoice ${row.invoiceNumber} appears on line ${twin.line} with a different amount or dates.`, 'invalid');
    }
    invoicesSeen.set(invoiceKey, twin ?? row);
    rows.push(row);
  }
  return rows;
}

function decodeUtf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DunningError('The CSV is not valid UTF-8 text.', 'invalid');
  }
}

const BATCH = 2_000; // rows per statement: well under PostgreSQL's 65,535 parameters

function chunks<T>(items: T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes a validated file in one transaction, a batch of rows per statement (a 100,000-row
 * file is a few dozen round trips, not hundreds of thousands).
 */
export async function importRows(db: Database, rows: ParsedRow[]): Promise<ImportResult> {
  const byAccount = new Map<string, ParsedRow[]>();
  for (const row of rows) {
    const list = byAccount.get(row.accountId);
    if (list) list.push(row);
    else byAccount.set(row.accountId, [row]);
  }
  const accountIds = [...byAccount.keys()];
  const firstRow = (accountId: string) => byAccount.get(accountId)![0]!;

  return db.transaction(async (tx) => {
    const result: ImportResult = { rows: rows.length, accounts: byAccount.size, invoicesAdded: 0, plans: [] };

    // Accounts: an existing account keeps its currency (its invoices and plans are in it).
    for (const ids of chunks(accountIds)) {
      const existing = await tx.select({ id: accounts.id, currency: accounts.currency }).from(accounts).where(inArray(accounts.id, ids));
      for (const e of existing) {
        const a = firstRow(e.id);
        if (e.currency !== a.currency) {
          throw new DunningError(`Line ${a.line}: account ${e.id} already exists in ${e.currency}, not ${a.currency}.`, 'invalid');
        }
      }
      await tx
        .insert(accounts)
        .values(
          ids.map((id) => {
            const a = firstRow(id);
            return { id, name: a.accountName, timezone: a.timezone, currency: a.currency, locale: a.locale ?? 'en-US' };
          }),
        )
        .onConflictDoUpdate({
          target: accounts.id,
          // A row without a locale column keeps the account's locale.
          set: { name: sql`excluded.name`, timezone: sql`excluded.timezone`, updatedAt: sql`now()` },
        });
      const withLocale = ids.filter((id) => firstRow(id).locale);
      for (const id of withLocale) await tx.update(accounts).set({ locale: firstRow(id).locale! }).where(eq(accounts.id, id));
    }

    // Contacts: one per account and address; the first one in the file is the primary contact.
    const contactRows = new Map<string, ParsedRow & { primary: boolean }>();
    for (const [accountId, list] of byAccount) {
      for (const r of list) {
        const key = `${accountId}\u0000${r.contactEmail}`;
        if (!contactRows.has(key)) contactRows.set(key, { ...r, primary: list[0]!.contactEmail === r.contactEmail });
      }
    }
    for (const batch of chunks([...contactRows.values()])) {
      await tx
        .insert(contacts)
        .values(
          batch.map((r) => ({
            accountId: r.accountId,
            name: r.contactName,
            email: r.contactEmail,
            emailConsent: r.emailConsent ?? 'opted_in',
            isPrimary: r.primary,
            consentChangedAt: r.emailConsent ? new Date() : null,
          })),
        )
        .onConflictDoUpdate({
          target: [contacts.accountId, contacts.email],
          set: {
            name: sql`excluded.name`,
            // Consent changes only when the file says so (the column is optional).
            emailConsent: sql`case when excluded.consent_changed_at is null then ${contacts.emailConsent} else excluded.email_consent end`,
            consentChangedAt: sql`case when excluded.consent_changed_at is null or excluded.email_consent = ${contacts.emailConsent} then ${contacts.consentChangedAt} else now() end`,
          },
        });
    }

    // Invoices: keyed by number per account. The same number with another amount or due date is an error.
    const invoiceRows = new Map<string, ParsedRow>();
    for (const r of rows) invoiceRows.set(`${r.accountId}\u0000${r.invoiceNumber}`, r);
    const uniqueInvoices = [...invoiceRows.values()];
    for (const batch of chunks(uniqueInvoices)) {
      const existing = await tx
        .select({ accountId: invoices.accountId, number: invoices.number, amountMinor: invoices.amountMinor, dueOn: invoices.dueOn })
        .from(invoices)
        // Two IN lists use the (account_id, number) index; a list of row tuples does not.
        .where(and(inArray(invoices.accountId, [...new Set(batch.map((r) => r.accountId))]), inArray(invoices.number, batch.map((r) => r.invoiceNumber))));
      for (const e of existing) {
        const r = invoiceRows.get(`${e.accountId}\u0000${e.number}`);
        if (!r) continue; // same number in another account of this batch
        if (e.amountMinor !== r.amountMinor || e.dueOn !== r.dueOn) {
          throw new DunningError(
            `Line ${r.line}: invoice ${r.invoiceNumber} of account ${r.accountId} already exists with a different amount or due date.`,
            'invalid',
          );
        }
      }
      const added = await tx
        .insert(invoices)
        .values(
          batch.map((r) => ({
            accountId: r.accountId,
            number: r.invoiceNumber,
            amountMinor: r.amountMinor,
            openMinor: r.amountMinor,
            currency: r.currency,
            issuedOn: r.issuedOn,
            dueOn: r.dueOn,
          })),
        )
        .onConflictDoNothing({ target: [invoices.accountId, invoices.number] })
        .returning({ id: invoices.id });
      result.invoicesAdded += added.length;
    }

    // Plans: the account's open plan takes the file's open invoices; a new plan is made only
    // when there is something open to collect.
    for (const ids of chunks(accountIds)) {
      const openPlans = await tx
        .select({ id: collectionPlans.id, accountId: collectionPlans.accountId })
        .from(collectionPlans)
        .where(and(inArray(collectionPlans.accountId, ids), notInArray(collectionPlans.status, [...closedPlanStatuses])));
      const planOf = new Map(openPlans.map((p) => [p.accountId, p.id]));
      const openInvoices = await tx
        .select({ id: invoices.id, accountId: invoices.accountId, number: invoices.number })
        .from(invoices)
        .where(and(inArray(invoices.accountId, ids), sql`${invoices.openMinor} > 0`));
      const inFile = openInvoices.filter((i) => invoiceRows.has(`${i.accountId}\u0000${i.number}`));
      const needPlan = [...new Set(inFile.map((i) => i.accountId))].filter((id) => !planOf.has(id));
      const created = new Set<string>();
      if (needPlan.length > 0) {
        const counts = await tx
          .select({ accountId: collectionPlans.accountId, n: sql<number>`count(*)::int` })
          .from(collectionPlans)
          .where(inArray(collectionPlans.accountId, needPlan))
          .groupBy(collectionPlans.accountId);
        const countOf = new Map(counts.map((c) => [c.accountId, c.n]));
        const fresh = needPlan.map((accountId) => {
          const n = countOf.get(accountId) ?? 0;
          return { id: n === 0 ? `plan-${accountId}` : `plan-${accountId}-${n + 1}`, accountId, currency: firstRow(accountId).currency };
        });
        await tx.insert(collectionPlans).values(fresh);
        for (const p of fresh) {
          planOf.set(p.accountId, p.id);
          created.add(p.accountId);
        }
      }
      for (const batch of chunks(inFile)) {
        await tx
          .insert(collectionPlanItems)
          .values(batch.map((i) => ({ planId: planOf.get(i.accountId)!, invoiceId: i.id })))
          .onConflictDoNothing();
      }
      const planIds = ids.map((id) => planOf.get(id)).filter((id): id is string => id !== undefined);
      const itemCounts = planIds.length
        ? await tx
            .select({ planId: collectionPlanItems.planId, n: sql<number>`count(*)::int` })
            .from(collectionPlanItems)
            .where(inArray(collectionPlanItems.planId, planIds))
            .groupBy(collectionPlanItems.planId)
        : [];
      const itemsOf = new Map(itemCounts.map((c) => [c.planId, c.n]));
      for (const accountId of ids) {
        const planId = planOf.get(accountId);
        if (planId) result.plans.push({ planId, accountId, created: created.has(accountId), items: itemsOf.get(planId) ?? 0 });
      }
    }
    return result;
  });
}
