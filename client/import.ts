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

/** Writes a validated file in one transaction. */
export async function importRows(db: Database, rows: ParsedRow[]): Promise<ImportResult> {
  const byAccount = new Map<string, ParsedRow[]>();
  for (const row of rows) byAccount.set(row.accountId, [...(byAccount.get(row.accountId) ?? []), row]);

  return db.transaction(async (tx) => {
    const result: ImportResult = { rows: rows.length, accounts: byAccount.size, invoicesAdded: 0, plans: [] };
    for (const [accountId, accountRows] of byAccount) {
      const a = accountRows[0]!;
      const [existing] = await tx.select().from(accounts).where(eq(accounts.id, accountId));
      if (existing && existing.currency !== a.currency) {
        throw new DunningError(`Line ${a.line}: account ${accountId} already exists in ${existing.currency}, not ${a.currency}.`, 'invalid');
      }
      await tx
        .insert(accounts)
        .values({ id: accountId, name: a.accountName, timezone: a.timezone, currency: a.currency, ...(a.locale && { locale: a.locale }) })
        .onConflictDoUpdate({
          target: accounts.id,
          set: { name: a.accountName, timezone: a.timezone, ...(a.locale && { locale: a.locale }), updatedAt: new Date() },
        });

      const contactsSeen = new Set<string>();
      for (const r of accountRows) {
        if (contactsSeen.has(r.contactEmail)) continue;
        contactsSeen.add(r.contactEmail);
        await tx
          .insert(contacts)
          .values({
            accountId,
            name: r.contactName,
            email: r.contactEmail,
            emailConsent: r.emailConsent ?? 'opted_in',
            isPrimary: contactsSeen.size === 1,
            consentChangedAt: r.emailConsent ? new Date() : null,
          })
          .onConflictDoUpdate({
            target: [contacts.accountId, contacts.email],
            set: r.emailConsent
              ? { name: r.contactName, emailConsent: r.emailConsent, consentChangedAt: sql`case when ${contacts.emailConsent} = ${r.emailConsent} then ${contacts.consentChangedAt} else now() end` }
              : { name: r.contactName },
          });
      }

      const uniqueInvoices = [...new Map(accountRows.map((r) => [r.invoiceNumber, r])).values()];
      for (const r of uniqueInvoices) {
        const [current] = await tx
          .select()
          .from(invoices)
          .where(and(eq(invoices.accountId, accountId), eq(invoices.number, r.invoiceNumber)));
        if (current && (current.amountMinor !== r.amountMinor || current.dueOn !== r.dueOn)) {
          throw new DunningError(
            `Line ${r.line}: invoice ${r.invoiceNumber} of account ${accountId} already exists with a different amount or due date.`,
            'invalid',
          );
        }
      }
      const added = await tx
        .insert(invoices)
        .values(
          uniqueInvoices.map((r) => ({
            accountId,
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

      const openInvoices = await tx
        .select({ id: invoices.id })
        .from(invoices)
        .where(
          and(
            eq(invoices.accountId, accountId),
            sql`${invoices.openMinor} > 0`,
            inArray(
              invoices.number,
              uniqueInvoices.map((r) => r.invoiceNumber),
            ),
          ),
        );
      // The account's open plan, or a new one when there is something open to collect.
      let [plan] = await tx
        .select({ id: collectionPlans.id })
        .from(collectionPlans)
        .where(and(eq(collectionPlans.accountId, accountId), notInArray(collectionPlans.status, [...closedPlanStatuses])));
      let created = false;
      if (!plan) {
        if (openInvoices.length === 0) continue; // everything in the file is settled: nothing to collect
        const [{ count }] = (await tx
          .select({ count: sql<number>`count(*)::int` })
          .from(collectionPlans)
          .where(eq(collectionPlans.accountId, accountId))) as [{ count: number }];
        const id = count === 0 ? `plan-${accountId}` : `plan-${accountId}-${count + 1}`;
        [plan] = await tx.insert(collectionPlans).values({ id, accountId, currency: a.currency }).returning({ id: collectionPlans.id });
        created = true;
      }
      if (openInvoices.length > 0) {
        await tx
          .insert(collectionPlanItems)
          .values(openInvoices.map((i) => ({ planId: plan!.id, invoiceId: i.id })))
          .onConflictDoNothing();
      }
      const [{ items }] = (await tx
        .select({ items: sql<number>`count(*)::int` })
        .from(collectionPlanItems)
        .where(eq(collectionPlanItems.planId, plan!.id))) as [{ items: number }];
      result.plans.push({ planId: plan!.id, accountId, created, items });
    }
    return result;
  });
}
