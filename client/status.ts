// Read models for `dunning status` and `dunning list`, from the db the workflow keeps in sync,
// so a finished plan reads the same as a running one.
import { asc, eq, sql } from 'drizzle-orm';
import { accounts, collectionPlans, orchestrationSteps, paymentPromises, paymentScheduleItems, paymentSchedules, tasks, timelineEvents } from '../db/schema';
import { nextOpenStep, type TaskKind } from '../workflows/domain/statuses';
import { workflowIdFor } from '../workflows/domain/workflow-id';
import type { PlanStatus } from '../workflows/messages';
import { requirePlan, type DatabaseContext } from './context';
import { DunningError } from './errors';
import type { Transaction } from '../db/connection';

export interface PlanStatusView {
  planId: string;
  workflowId: string;
  accountId: string;
  accountName: string;
  status: PlanStatus;
  policy: string | null;
  /** The segmentation rule that picked the policy (null when it was named, or no rules were set). */
  pickedBy: { rulesVersion: number; rule: string } | null;
  /** The account's segment and risk score, as the segmentation rules see them. */
  segment: string | null;
  riskScore: number | null;
  currency: string;
  /** The account's locale, to write the plan's money as the account does. */
  locale: string;
  outstandingMinor: number;
  nextActionAt: string | null;
  steps: Array<{ key: string; action: string; status: string; scheduledFor: string | null; completedAt: string | null; reason: string | null }>;
  promises: Array<{
    id: string;
    amountMinor: number;
    paidMinor: number;
    dueOn: string;
    status: string;
    rep: string | null;
    schedule: Array<{ seq: number; amountMinor: number; dueOn: string; status: string }>;
  }>;
  tasks: Array<{ id: string; kind: string; status: string; reason: string; outcome: string | null }>;
  timeline: Array<{ at: string; kind: string; summary: string }>;
}

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export async function planStatus({ db }: DatabaseContext, { planId }: { planId: string }): Promise<PlanStatusView> {
  // One snapshot: the journey writes plan, promises, tasks and timeline in one statement, and a
  // reader between two of its writes must not see the promise broken but the plan not yet escalated.
  return db.transaction((tx) => readPlanStatus(tx, planId), { isolationLevel: 'repeatable read', accessMode: 'read only' });
}

export async function readPlanStatus(db: Transaction, planId: string): Promise<PlanStatusView> {
  const ctx = await requirePlan(db, planId);
  const [steps, promises, scheduleItems, taskRows, timeline, [segmentation]] = await Promise.all([
    db.select().from(orchestrationSteps).where(eq(orchestrationSteps.planId, planId)).orderBy(asc(orchestrationSteps.ordinal)),
    db.select().from(paymentPromises).where(eq(paymentPromises.planId, planId)).orderBy(asc(paymentPromises.createdAt)),
    db
      .select({ scheduleId: paymentScheduleItems.scheduleId, seq: paymentScheduleItems.seq, amountMinor: paymentScheduleItems.amountMinor, dueOn: paymentScheduleItems.dueOn, status: paymentScheduleItems.status })
      .from(paymentScheduleItems)
      .innerJoin(paymentSchedules, eq(paymentSchedules.id, paymentScheduleItems.scheduleId))
      .where(eq(paymentSchedules.planId, planId))
      .orderBy(asc(paymentScheduleItems.seq)),
    db.select().from(tasks).where(eq(tasks.planId, planId)).orderBy(asc(tasks.createdAt), asc(tasks.id)),
    db.select().from(timelineEvents).where(eq(timelineEvents.planId, planId)).orderBy(asc(timelineEvents.seq)),
    db
      .select({ rulesVersion: collectionPlans.segmentationRulesVersion, rule: collectionPlans.segmentationRule, segment: accounts.segment, riskScore: accounts.riskScore })
      .from(collectionPlans)
      .innerJoin(accounts, eq(accounts.id, collectionPlans.accountId))
      .where(eq(collectionPlans.id, planId)),
  ]);
  const next = nextOpenStep(steps);
  const { status } = ctx;
  return {
    planId,
    workflowId: workflowIdFor(planId),
    accountId: ctx.accountId,
    accountName: ctx.accountName,
    status,
    policy: ctx.policyName,
    pickedBy: segmentation?.rulesVersion != null && segmentation.rule != null ? { rulesVersion: segmentation.rulesVersion, rule: segmentation.rule } : null,
    segment: segmentation?.segment ?? null,
    riskScore: segmentation?.riskScore ?? null,
    currency: ctx.currency,
    locale: ctx.locale,
    outstandingMinor: ctx.outstandingMinor,
    nextActionAt: status === 'on_hold' ? null : isoOrNull(next?.scheduledFor ?? null),
    steps: steps.map((s) => ({
      key: s.key,
      action: s.action,
      status: s.status,
      scheduledFor: isoOrNull(s.scheduledFor),
      completedAt: isoOrNull(s.completedAt),
      reason: s.reason,
    })),
    promises: promises.map((p) => ({
      id: p.id,
      amountMinor: p.amountMinor,
      paidMinor: p.paidMinor,
      dueOn: p.dueOn.toISOString(),
      status: p.status,
      rep: p.rep,
      schedule: scheduleItems
        .filter((i) => i.scheduleId === p.id)
        .map((i) => ({ seq: i.seq, amountMinor: i.amountMinor, dueOn: i.dueOn.toISOString(), status: i.status })),
    })),
    tasks: taskRows.map((t) => ({ id: t.id, kind: t.kind, status: t.status, reason: t.reason, outcome: t.outcome })),
    timeline: timeline.map((e) => ({ at: e.at.toISOString(), kind: e.kind, summary: e.summary })),
  };
}

export interface PlanListRow {
  planId: string;
  accountId: string;
  accountName: string;
  status: PlanStatus;
  currency: string;
  /** The account's locale, to write the amount as the account does. */
  locale: string;
  outstandingMinor: number;
  nextStep: string | null;
  nextActionAt: string | null;
  createdAt: string;
}

export interface PlanListFilter {
  status?: PlanStatus;
  accountId?: string;
  /** Plans with an open task of this kind. */
  taskKind?: TaskKind;
  /** 1–200, default 50. */
  limit?: number;
  /** From the previous page's `nextCursor`. */
  cursor?: string;
}

export interface PlanPage {
  data: PlanListRow[];
  /** Null on the last page. */
  nextCursor: string | null;
}

/** A page position: the last row's creation time in microseconds (exact, unlike a JS Date) and id. */
function encodeCursor(micros: string, id: string): string {
  return Buffer.from(JSON.stringify([micros, id])).toString('base64url');
}

function decodeCursor(cursor: string): { micros: string; id: string } {
  try {
    const [micros, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // PostgreSQL text holds no NUL: such an id was never one of ours, and would fail the query.
    if (typeof micros === 'string' && /^\d{1,18}$/.test(micros) && typeof id === 'string' && !id.includes('\u0000')) return { micros, id };
  } catch {
    // falls through to the refusal
  }
  throw new DunningError('The cursor is not one this API gave; start again without it.', 'invalid');
}

/**
 * Plans newest first, a page at a time. Keyset paging on (created_at, id) over an index per
 * filter, so page 1,000 costs what page 1 does. The page's ids are chosen first, from indexes
 * alone, and the account, amount owed and next step read for those rows only (joined before
 * the limit, they were read for every plan a scarce task kind matched).
 */
export async function listPlans({ db }: DatabaseContext, filter: PlanListFilter = {}): Promise<PlanPage> {
  const limit = filter.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new DunningError('The limit must be a whole number from 1 to 200.', 'invalid');
  const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
  const where = [
    filter.status ? sql`p.status = ${filter.status}` : undefined,
    filter.accountId ? sql`p.account_id = ${filter.accountId}` : undefined,
    filter.taskKind ? sql`exists (select 1 from tasks t where t.plan_id = p.id and t.kind = ${filter.taskKind} and t.status = 'open')` : undefined,
    after ? sql`(p.created_at, p.id) < (timestamptz 'epoch' + ${after.micros}::bigint * interval '1 microsecond', ${after.id})` : undefined,
  ].filter((w) => w !== undefined);
  // Amount and page position come as text: bigints, exact.
  const rows = await db.execute<Omit<PlanListRow, 'outstandingMinor'> & { owed: string; micros: string }>(sql`
    select p.id as "planId", p.account_id as "accountId", a.name as "accountName", p.status, p.currency, a.locale,
      (select coalesce(sum(i.open_minor), 0) from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open')::text as owed,
      n.key as "nextStep", n.at as "nextActionAt", p.created_at as "createdAt",
      (extract(epoch from p.created_at) * 1000000)::bigint::text as micros
    from (
      select p.id from collection_plans p
      ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``}
      order by p.created_at desc nulls last, p.id desc nulls last
      limit ${limit + 1}
    ) page
    join collection_plans p on p.id = page.id
    join accounts a on a.id = p.account_id
    left join lateral (
      select s.key, s.scheduled_for as at from orchestration_steps s
      where s.plan_id = p.id and s.status in ('pending', 'waiting') order by s.ordinal limit 1
    ) n on true
    order by p.created_at desc nulls last, p.id desc nulls last`);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    data: page.map(({ owed, micros: _micros, ...r }) => ({
      ...r,
      outstandingMinor: Number(owed),
      nextActionAt: r.status === 'on_hold' || !r.nextActionAt ? null : new Date(r.nextActionAt).toISOString(),
      createdAt: new Date(r.createdAt).toISOString(),
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(last.micros, last.planId) : null,
  };
}
