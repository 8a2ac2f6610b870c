// Test data written through the real import code, with ids unique to each test.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/connection';
import { emailMessages } from '../db/schema';
import { stateQuery, workflowIdFor, type PlanState } from '../workflows/messages';
import type { DunningPolicy, PolicyStep } from '../workflows/domain/policy';
import { importRows, type ParsedRow } from '../client/import';
import { startOfBusinessDay } from '../workflows/domain/calendar';

export function dateOffset(days: number, from = new Date()): string {
  return new Date(from.getTime() + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * An IANA zone (Etc/GMT±N) where the wall clock now shows `hour` o'clock, give or take minutes.
 * Where one exists (always, for hours 2 to 12), it is a zone whose date is today's UTC date, so
 * dates written with `dateOffset` are the account's own: at 22:00 UTC local noon is UTC-10 today,
 * not UTC+14 tomorrow.
 */
export function zoneWhereLocalHourIs(hour: number, now = new Date()): string {
  let offset = hour - now.getUTCHours();
  if (offset < -12 || offset > 14) offset = offset < 0 ? offset + 24 : offset - 24;
  // Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3.
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

export interface PlanFixture {
  planId: string;
  accountId: string;
}

export async function createPlan(
  db: Database,
  opts: {
    invoices: Array<{ number?: string; amountMinor: number; dueOn: string; issuedOn?: string }>;
    timezone?: string;
    currency?: string;
    consent?: 'opted_in' | 'opted_out';
    accountName?: string;
    locale?: string;
    /** "Now" for the default time zone (the time-skipping server runs ahead of the wall clock). */
    now?: Date;
  },
): Promise<PlanFixture> {
  const accountId = `acct-${randomUUID().slice(0, 8)}`;
  const rows: ParsedRow[] = opts.invoices.map((inv, i) => ({
    line: i + 2,
    accountId,
    accountName: opts.accountName ?? `Account ${accountId}`,
    contactName: 'Pat Payer',
    contactEmail: `pat+${accountId}@example.com`,
    timezone: opts.timezone ?? zoneWhereLocalHourIs(12, opts.now),
    currency: opts.currency ?? 'USD',
    invoiceNumber: inv.number ?? `INV-${i + 1}`,
    amountMinor: inv.amountMinor,
    issuedOn: inv.issuedOn ?? dateOffset(-60, opts.now),
    dueOn: inv.dueOn,
    emailConsent: opts.consent,
    locale: opts.locale,
  }));
  const result = await importRows(db, rows);
  return { planId: result.plans[0]!.planId, accountId };
}

/** The outbox messages of one plan (file names start with the plan id). */
export function outboxFor(dir: string, planId: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.startsWith(`${planId}_`) && f.endsWith('.eml'))
      .sort();
  } catch {
    return [];
  }
}

/** Polls until `check` returns a value that is not undefined (real time; activities take real ms). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const stepOf = (state: PlanState, key: string) => state.steps.find((s) => s.key === key)!;

/** Waits (in real time) until the plan's queried state satisfies `ok`. */
export function waitForPlanState(client: Client, planId: string, ok: (s: PlanState) => boolean, what: string): Promise<PlanState> {
  return eventually(async () => {
    const s = await client.workflow.getHandle(workflowIdFor(planId)).query(stateQuery);
    return ok(s) ? s : undefined;
  }, what);
}

const templateFor: Record<string, string> = {
  upcoming_notice: 'upcoming-invoices',
  first_reminder: 'first-reminder',
  second_reminder: 'second-reminder',
};

/**
 * A policy in seconds from initiation, for journeys on the real dev server, e.g.
 * `secondsPolicy(name, { upcoming_notice: 0, first_reminder: 3, manual_escalation: 9 })`.
 */
export function secondsPolicy(name: string, at: Record<string, number>, extra: Partial<DunningPolicy> = {}): DunningPolicy {
  const steps = Object.entries(at).map(([key, seconds]): PolicyStep =>
    key === 'manual_escalation'
      ? { key, action: 'task', at: `PT${seconds}S`, from: 'initiated' }
      : { key, action: 'email', template: templateFor[key]!, at: `PT${seconds}S`, from: 'initiated' },
  );
  return { name, steps, maxPromises: 1, promiseGrace: 'P1D', ...extra };
}

/** Plans of a herd: due today in UTC, so their `due` anchor is one instant for them all. */
export const herdPlan = () => ({ timezone: 'Etc/UTC', dueOn: new Date().toISOString().slice(0, 10) });

/**
 * A policy whose only step, the first reminder, falls due at `at` for every herdPlan(): the
 * month-start herd, however long initiating the plans took (a plan initiated after `at` sends
 * at once, into the same herd).
 */
export function herdPolicy(name: string, at: Date): DunningPolicy {
  const seconds = Math.round((at.getTime() - startOfBusinessDay(herdPlan().dueOn, herdPlan().timezone).getTime()) / 1000);
  const policy = secondsPolicy(name, { first_reminder: 0 });
  return { ...policy, steps: policy.steps.map((s) => ({ ...s, at: `${seconds < 0 ? '-' : ''}PT${Math.abs(seconds)}S`, from: 'due' as const })) };
}

/**
 * The plans' ledger rows, without the payloads themselves: a poll reading megabytes of them
 * every 100 ms would keep busy the event loop that stamps the Resend stand-in's arrivals.
 */
export function ledgerRows(db: Database, plans: PlanFixture[]) {
  return db
    .select({
      planId: emailMessages.planId,
      idempotencyKey: emailMessages.idempotencyKey,
      status: emailMessages.status,
      batchId: emailMessages.batchId,
      providerMessageId: emailMessages.providerMessageId,
      error: emailMessages.error,
      payloadKept: sql<boolean>`payload is not null`,
    })
    .from(emailMessages)
    .where(inArray(emailMessages.planId, plans.map((p) => p.planId)));
}

/** Waits until every plan's ledger row is sent; the rows, without payloads. */
export function allLedgerRowsSent(db: Database, plans: PlanFixture[], timeoutMs: number) {
  return eventually(async () => {
    const rows = await ledgerRows(db, plans);
    return rows.length === plans.length && rows.every((m) => m.status === 'sent') ? rows : undefined;
  }, 'every reminder to be sent', timeoutMs);
}
