// Plan data as the journey, the client and the HTTP API read and change it. Every write is
// idempotent: payments are keyed by the billing system's payment id, timeline entries by key.
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { formatMoney } from '../workflows/domain/money';
import { closedSummary, paymentSummary } from '../workflows/domain/timeline';
import { closedPlanStatuses, openStepStatuses, type PlanStatus } from '../workflows/domain/statuses';
import type { Database, Transaction } from './connection';
import type { DunningPolicy } from '../workflows/domain/policy';
import {
  accounts,
  collectionPlanItems,
  collectionPlans,
  invoices,
  orchestrationSteps,
  paymentPromises,
  paymentScheduleItems,
  paymentSchedules,
  payments,
  planPolicySnapshots,
  tasks,
  timelineEvents,
} from './schema';

export interface PlanContext {
  planId: string;
  status: PlanStatus;
  /** The policy the plan's journey runs under; null until a journey has begun. */
  policyName: string | null;
  accountId: string;
  accountName: string;
  currency: string;
  locale: string;
  timeZone: string;
  contact?: { id: string; name: string; email: string; optedOut: boolean };
  /** Open invoices of the plan, oldest due first. */
  invoices: Array<{ id: string; number: string; issuedOn: string; dueOn: string; amountMinor: number; openMinor: number; kind: 'invoice' | 'late_fee' }>;
  outstandingMinor: number;
}

/** Thrown for a plan id that is not in the database; each caller says it in its own terms. */
export class UnknownPlanError extends Error {
  override name = 'UnknownPlanError';
  constructor(readonly planId: string) {
    super(`Unknown plan "${planId}".`);
  }
}

/**
 * Reads a plan with its account, primary contact and open items (oldest due first) in one
 * query; undefined if unknown.
 */
export async function loadPlanContext(q: Pick<Database, 'execute'>, planId: string): Promise<PlanContext | undefined> {
  // Through the caller's handle: inside a transaction it reads the transaction's snapshot.
  const [row] = await q.execute<
    Omit<PlanContext, 'contact' | 'outstandingMinor'> & { contact: { id: string; name: string; email: string; consent: string } | null }
  >(sql`
    select p.id as "planId", p.status, p.policy_name as "policyName", a.id as "accountId", a.name as "accountName", p.currency,
      a.locale, a.timezone as "timeZone",
      (select json_build_object('id', c.id, 'name', c.name, 'email', c.email, 'consent', c.email_consent)
        from contacts c where c.account_id = a.id order by c.is_primary desc, c.email limit 1) as contact,
      coalesce((select json_agg(json_build_object('id', i.id, 'number', i.number, 'issuedOn', i.issued_on, 'dueOn', i.due_on,
          'amountMinor', i.amount_minor, 'openMinor', i.open_minor, 'kind', i.kind) order by i.due_on, i.number)
        from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open' and i.open_minor > 0), '[]') as invoices
    from collection_plans p join accounts a on a.id = p.account_id
    where p.id = ${planId}`);
  if (!row) return undefined;
  const { contact, ...plan } = row;
  return {
    ...plan,
    contact: contact ? { id: contact.id, name: contact.name, email: contact.email, optedOut: contact.consent === 'opted_out' } : undefined,
    outstandingMinor: plan.invoices.reduce((sum, i) => sum + i.openMinor, 0),
  };
}

/** A plan's status once its journey starts: not_started moves on; a status the journey wrote stays. */
export const statusOnInitiation = sql<PlanStatus>`case when ${collectionPlans.status} = 'not_started' then 'in_progress' else ${collectionPlans.status} end`;

/**
 * A journey was started for the plan: it reads in_progress under its policy from now on, not
 * only once the journey's first activity has run. A status the journey already wrote stays.
 */
export async function markInitiated(
  db: Database,
  planId: string,
  policy: { name: string; version: number },
  /** The segmentation rule that picked the policy; none when it was named. Kept only with the policy it picked. */
  pickedBy?: { rulesVersion: number; rule: string },
): Promise<void> {
  const firstPolicy = sql`${collectionPlans.policyName} is null or ${collectionPlans.policyName} = ${policy.name}`;
  await db
    .update(collectionPlans)
    .set({
      status: statusOnInitiation,
      policyName: sql`coalesce(${collectionPlans.policyName}, ${policy.name})`,
      policyVersion: sql`coalesce(${collectionPlans.policyVersion}, ${policy.version}::int)`,
      ...(pickedBy
        ? {
            segmentationRulesVersion: sql`case when ${collectionPlans.segmentationRulesVersion} is null and (${firstPolicy}) then ${pickedBy.rulesVersion}::int else ${collectionPlans.segmentationRulesVersion} end`,
            segmentationRule: sql`case when ${collectionPlans.segmentationRulesVersion} is null and (${firstPolicy}) then ${pickedBy.rule} else ${collectionPlans.segmentationRule} end`,
          }
        : {}),
    })
    .where(eq(collectionPlans.id, planId));
}

/**
 * The last timeline seq a plan has (0 for none), as a scalar subquery: where a writer's next
 * entries continue, so the journey and the no-journey payment path never share a seq.
 */
export function lastTimelineSeq(planId: string) {
  return sql<number>`(select coalesce(max(e.seq), 0)::int from timeline_events e where e.plan_id = ${planId})`;
}

export interface PaymentInput {
  planId: string;
  paymentId: string;
  amountMinor: number;
  invoiceNumber?: string;
  receivedAt: string;
}

export interface PaymentApplied {
  /** False when the payment id was already recorded (a retry or a repeated report). */
  applied: boolean;
  outstandingMinor: number;
  amountDisplay: string;
  owedDisplay: string;
}

/**
 * Records a payment once (keyed by the billing system's payment id) and applies it to the
 * named invoice, else to the oldest open ones. False when the id was already recorded.
 */
async function applyPaymentIn(tx: Transaction, input: PaymentInput): Promise<boolean> {
  const [plan] = await tx
    .select({ accountId: collectionPlans.accountId, currency: collectionPlans.currency })
    .from(collectionPlans)
    .where(eq(collectionPlans.id, input.planId));
  if (!plan) throw new UnknownPlanError(input.planId);
  const open = await tx
    .select({ id: invoices.id, number: invoices.number, openMinor: invoices.openMinor, held: sql<boolean>`${collectionPlanItems.status} = 'disputed'` })
    .from(collectionPlanItems)
    .innerJoin(invoices, eq(invoices.id, collectionPlanItems.invoiceId))
    .where(and(eq(collectionPlanItems.planId, input.planId), sql`${invoices.openMinor} > 0`))
    .orderBy(asc(invoices.dueOn), asc(invoices.number))
    .for('update');
  const named = input.invoiceNumber ? open.find((i) => i.number === input.invoiceNumber) : undefined;
  const inserted = await tx
    .insert(payments)
    .values({
      id: input.paymentId,
      planId: input.planId,
      invoiceId: named?.id ?? null,
      amountMinor: input.amountMinor,
      currency: plan.currency,
      receivedAt: new Date(input.receivedAt),
    })
    .onConflictDoNothing({ target: payments.id })
    .returning({ id: payments.id });
  if (inserted.length === 0) return false; // already recorded: a retry or a repeated report
  let remaining = input.amountMinor;
  // An invoice held for a dispute takes a payment only when the payment names it, or once every other is paid.
  const byTurn = [...open.filter((i) => !i.held), ...open.filter((i) => i.held)];
  for (const inv of named ? [named, ...byTurn.filter((i) => i !== named)] : byTurn) {
    if (remaining <= 0) break;
    const take = Math.min(remaining, inv.openMinor);
    remaining -= take;
    const left = inv.openMinor - take;
    await tx
      .update(invoices)
      .set({ openMinor: left, status: left === 0 ? 'paid' : 'open' })
      .where(eq(invoices.id, inv.id));
    if (left === 0) {
      await tx
        .update(collectionPlanItems)
        .set({ status: 'paid' })
        .where(and(eq(collectionPlanItems.planId, input.planId), eq(collectionPlanItems.invoiceId, inv.id)));
    }
  }
  return true;
}

/** What is still owed on a plan, with both amounts as the account's locale writes them. */
async function paymentOutcome(q: Pick<Database, 'execute'>, input: PaymentInput, applied: boolean): Promise<PaymentApplied> {
  // Read through the caller's handle: inside a transaction it sees the payment just applied.
  const [row] = await q.execute<{ currency: string; locale: string; owed: string }>(sql`
    select p.currency, a.locale,
      coalesce((select sum(i.open_minor) from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open' and i.open_minor > 0), 0)::text as owed
    from collection_plans p join accounts a on a.id = p.account_id
    where p.id = ${input.planId}`);
  if (!row) throw new UnknownPlanError(input.planId);
  const outstandingMinor = Number(row.owed);
  return {
    applied,
    outstandingMinor,
    amountDisplay: formatMoney(input.amountMinor, row.currency, row.locale),
    owedDisplay: formatMoney(outstandingMinor, row.currency, row.locale),
  };
}

/**
 * Records and applies a payment for a running journey, which writes its own timeline entry
 * and decides whether the plan is resolved. Returns what is still owed.
 */
export async function applyPayment(db: Database, input: PaymentInput): Promise<PaymentApplied> {
  const applied = await db.transaction((tx) => applyPaymentIn(tx, input));
  return paymentOutcome(db, input, applied);
}

/**
 * A payment for a plan with no running journey (never initiated, or already closed): the
 * journey is not there to record it on the timeline or to resolve the plan, so this does both,
 * as the journey would, in the payment's transaction. A repeated payment id changes nothing.
 */
export async function applyPaymentWithoutJourney(db: Database, input: PaymentInput, at: Date): Promise<PaymentApplied & { resolved: boolean }> {
  return db.transaction(async (tx) => {
    // The plan row is the lock: two payments at once take timeline seqs one after the other.
    const [plan] = await tx.select({ status: collectionPlans.status }).from(collectionPlans).where(eq(collectionPlans.id, input.planId)).for('update');
    if (!plan) throw new UnknownPlanError(input.planId);
    const applied = await applyPaymentIn(tx, input);
    const outcome = await paymentOutcome(tx, input, applied);
    if (!applied) return { ...outcome, resolved: false };
    const [{ seq } = { seq: 0 }] = await tx.execute<{ seq: number }>(sql`select ${lastTimelineSeq(input.planId)} as seq`);
    const events = [{ planId: input.planId, eventKey: `payment:${input.paymentId}`, seq: seq + 1, kind: 'payment', summary: paymentSummary(input.paymentId, outcome), at }];
    const resolved = outcome.outstandingMinor <= 0 && !closedPlanStatuses.includes(plan.status);
    if (resolved) {
      await resolvePaidPlan(tx, input.planId, at);
      events.push({ planId: input.planId, eventKey: 'resolved', seq: seq + 2, kind: 'resolved', summary: closedSummary('resolved', 'paid in full'), at });
    }
    await tx.insert(timelineEvents).values(events).onConflictDoNothing();
    return { ...outcome, resolved };
  });
}

/**
 * Leaves a paid plan as the journey's own close leaves it: steps still ahead skipped (nothing
 * owed), open tasks cancelled, open promises and their installments kept.
 */
async function resolvePaidPlan(tx: Transaction, planId: string, at: Date): Promise<void> {
  await tx.update(collectionPlans).set({ status: 'resolved', closedAt: at, updatedAt: at }).where(eq(collectionPlans.id, planId));
  await tx
    .update(orchestrationSteps)
    .set({ status: 'skipped', reason: 'nothing owed', completedAt: at, updatedAt: at })
    .where(and(eq(orchestrationSteps.planId, planId), inArray(orchestrationSteps.status, [...openStepStatuses])));
  await tx
    .update(tasks)
    .set({ status: 'cancelled', outcome: 'plan resolved', closedAt: at })
    .where(and(eq(tasks.planId, planId), eq(tasks.status, 'open')));
  const kept = await tx
    .update(paymentPromises)
    .set({ status: 'kept', resolvedAt: at })
    .where(and(eq(paymentPromises.planId, planId), eq(paymentPromises.status, 'open')))
    .returning({ id: paymentPromises.id });
  if (kept.length > 0) {
    await tx
      .update(paymentScheduleItems)
      .set({ status: 'kept' })
      .where(
        and(
          eq(paymentScheduleItems.status, 'open'),
          inArray(
            paymentScheduleItems.scheduleId,
            tx.select({ id: paymentSchedules.id }).from(paymentSchedules).where(inArray(paymentSchedules.promiseId, kept.map((p) => p.id))),
          ),
        ),
      );
  }
}

/**
 * Writing the policy a plan is initiated under, in the statement that initiates it: the snapshot
 * (a data-modifying CTE; rewritten if the journey's first activity runs again) and the plan
 * row's columns taken from it.
 */
export function policySnapshotWrite(db: Database, planId: string, policy: DunningPolicy) {
  const snapshot = db.$with('policy_snapshot_written', { planId: sql<string>`plan_id` }).as(sql`
    insert into plan_policy_snapshots (plan_id, policy) values (${planId}, ${JSON.stringify(policy)}::jsonb)
    on conflict (plan_id) do update set policy = excluded.policy
    returning plan_id`);
  return { snapshot, columns: { sendWindowFrom: policy.sendWindow?.from ?? null, sendWindowTo: policy.sendWindow?.to ?? null } };
}

/** What a running journey's calendar is computed from, as the db has it now. */
export interface ScheduleAnchors {
  policy: DunningPolicy;
  initiatedAt: Date;
  timeZone: string;
  /** Due date of the earliest invoice still open: the `due` anchor. */
  dueOn: string;
}

/** The anchors of an initiated plan with something still open; undefined otherwise. */
export async function loadScheduleAnchors(db: Database, planId: string): Promise<ScheduleAnchors | undefined> {
  const [row] = await db
    .select({
      policy: planPolicySnapshots.policy,
      initiatedAt: collectionPlans.initiatedAt,
      timeZone: accounts.timezone,
      dueOn: sql<string | null>`(select min(i.due_on)::text from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = ${collectionPlans.id} and ci.status = 'open' and i.open_minor > 0)`,
    })
    .from(collectionPlans)
    .innerJoin(accounts, eq(accounts.id, collectionPlans.accountId))
    .leftJoin(planPolicySnapshots, eq(planPolicySnapshots.planId, collectionPlans.id))
    .where(eq(collectionPlans.id, planId));
  if (!row?.policy || !row.initiatedAt || !row.dueOn) return undefined;
  return { policy: row.policy as DunningPolicy, initiatedAt: row.initiatedAt, timeZone: row.timeZone, dueOn: row.dueOn };
}

/** Whether the plan holds this invoice for a dispute, with something still open on it. */
export async function isHeldInvoice(db: Database, planId: string, invoiceNumber: string): Promise<boolean> {
  const rows = await db.execute(sql`
    select 1 from collection_plan_items ci join invoices i on i.id = ci.invoice_id
    where ci.plan_id = ${planId} and i.number = ${invoiceNumber} and ci.status = 'disputed' and i.open_minor > 0`);
  return rows.length > 0;
}
