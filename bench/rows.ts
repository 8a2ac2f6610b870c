// The accounts the bench imports (one invoice each, 100.00 USD issued 30 days ago and due in 10),
// and the policy it leaves plans asleep under.
import type { ParsedRow } from '../client/import';
import { secondsPolicy } from '../test/fixtures';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** n rows for `importRows`: accounts `${prefix}-${from + i}`, invoices `${prefix}-INV-${i}`. */
export function benchRows(prefix: string, n: number, from = 0): ParsedRow[] {
  return Array.from({ length: n }, (_, i) => ({
    line: i + 2,
    accountId: `${prefix}-${from + i}`,
    accountName: `Bench ${i}`,
    contactName: 'Bench Contact',
    contactEmail: `bench${i}@bench.example`,
    timezone: 'Etc/UTC',
    currency: 'USD',
    invoiceNumber: `${prefix}-INV-${i}`,
    amountMinor: 10_000,
    issuedOn: day(-30),
    dueOn: day(10),
  }));
}

/** A policy's step times for plans left asleep: the first step 30 days after initiation, then one a day. */
export const laterDays = { upcoming_notice: 30, first_reminder: 31, second_reminder: 32, manual_escalation: 33 };
/** `laterDays` as a policy named `name`. */
export const laterPolicy = (name: string) => secondsPolicy(name, Object.fromEntries(Object.entries(laterDays).map(([k, d]) => [k, d * 86_400])));
