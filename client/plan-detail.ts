// Everything about one plan for the rep console's plan page: the status view (steps, promises,
// tasks, timeline) plus the account's contacts with consent, every invoice the plan collects and
// the collections summary, read in one snapshot so the figures agree with each other.
import { sql } from 'drizzle-orm';
import type { Database } from '../db/connection';
import type { EmailConsent } from '../workflows/domain/statuses';
import type { DatabaseContext } from './context';
import { readPlanStatus, type PlanStatusView } from './status';

export interface PlanDetail extends PlanStatusView {
  timeZone: string;
  contacts: Array<{ id: string; name: string; email: string; primary: boolean; consent: EmailConsent; consentChangedAt: string | null }>;
  /** Every invoice of the plan, oldest due first; paid and removed ones too. */
  invoices: Array<{
    number: string;
    issuedOn: string;
    dueOn: string;
    amountMinor: number;
    openMinor: number;
    /** The plan item's status: open, paid, disputed, removed. */
    status: string;
    /** Days since it fell due on the account's calendar, while something is open on it; else 0. */
    daysOverdue: number;
  }>;
  summary: {
    /** What the plan's invoices came to (those removed from it left out). */
    initiallyDueMinor: number;
    /** Open on the plan's open items now (the status view's outstanding). */
    nowDueMinor: number;
    /** Payments recorded against the plan. */
    paidMinor: number;
    promisesKept: number;
    promisesBroken: number;
    /** Mean days overdue of the invoices still open and past due; 0 when none is. */
    averageDaysPastDue: number;
  };
}

export const summaryRule =
  'Initially due is what the plan’s invoices came to; now due is what is open on them today; average days past due is the mean over open invoices that are past due, on the account’s calendar.';

export async function planDetail({ db }: DatabaseContext, { planId }: { planId: string }): Promise<PlanDetail> {
  return db.transaction(
    async (tx) => {
      const status = await readPlanStatus(tx, planId);
      const [extra] = await tx.execute<{
        time_zone: string;
        contacts: PlanDetail['contacts'];
        invoices: Array<Omit<PlanDetail['invoices'][number], 'amountMinor' | 'openMinor'> & { amountMinor: string; openMinor: string }>;
        paid: string;
      }>(sql`
        select a.timezone as time_zone,
          coalesce((select json_agg(json_build_object('id', c.id, 'name', c.name, 'email', c.email, 'primary', c.is_primary,
              'consent', c.email_consent, 'consentChangedAt', c.consent_changed_at) order by c.is_primary desc, c.email)
            from contacts c where c.account_id = a.id), '[]') as contacts,
          coalesce((select json_agg(json_build_object('number', i.number, 'issuedOn', i.issued_on, 'dueOn', i.due_on,
              'amountMinor', i.amount_minor::text, 'openMinor', i.open_minor::text, 'status', ci.status,
              'daysOverdue', case when ci.status = 'open' and i.open_minor > 0
                then greatest(0, (now() at time zone a.timezone)::date - i.due_on) else 0 end) order by i.due_on, i.number)
            from collection_plan_items ci join invoices i on i.id = ci.invoice_id where ci.plan_id = p.id), '[]') as invoices,
          (select coalesce(sum(amount_minor), 0) from payments where plan_id = p.id)::text as paid
        from collection_plans p join accounts a on a.id = p.account_id
        where p.id = ${planId}`);
      // readPlanStatus has already refused an unknown plan, in this same snapshot.
      const { time_zone: timeZone, contacts, paid } = extra!;
      const invoices = extra!.invoices.map((i) => ({ ...i, amountMinor: Number(i.amountMinor), openMinor: Number(i.openMinor) }));
      const pastDue = invoices.filter((i) => i.daysOverdue > 0);
      return {
        ...status,
        timeZone,
        contacts: contacts.map((c) => ({ ...c, consentChangedAt: c.consentChangedAt ? new Date(c.consentChangedAt).toISOString() : null })),
        invoices,
        summary: {
          initiallyDueMinor: invoices.filter((i) => i.status !== 'removed').reduce((sum, i) => sum + i.amountMinor, 0),
          nowDueMinor: status.outstandingMinor,
          paidMinor: Number(paid),
          promisesKept: status.promises.filter((p) => p.status === 'kept').length,
          promisesBroken: status.promises.filter((p) => p.status === 'broken').length,
          averageDaysPastDue: pastDue.length ? Math.round((pastDue.reduce((sum, i) => sum + i.daysOverdue, 0) / pastDue.length) * 10) / 10 : 0,
        },
      };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/** The plan's last timeline position: what a rep's action is waited for against. */
export async function timelineMark(db: Database, planId: string): Promise<number> {
  const [row] = await db.execute<{ seq: number }>(sql`select coalesce(max(seq), -1)::int as seq from timeline_events where plan_id = ${planId}`);
  return row?.seq ?? -1;
}

/**
 * Waits until the plan's timeline has moved past `mark`: the journey answers an update before
 * its loop has saved what the update did, and the page read right after should show it. Gives
 * up quietly after `timeoutMs` (the page then shows the saved state, and the next read the rest).
 */
export async function timelineAfter(db: Database, planId: string, mark: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    if ((await timelineMark(db, planId)) > mark) return true;
    if (Date.now() + wait > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
