// Read models for `dunning status` and `dunning list`, from the db the workflow keeps in sync,
// so a finished plan reads the same as a running one.
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { accounts, collectionPlans, orchestrationSteps, paymentPromises, paymentScheduleItems, paymentSchedules, tasks, timelineEvents } from '../db/schema';
import { nextOpenStep, openStepStatuses } from '../workflows/domain/statuses';
import { workflowIdFor } from '../workflows/domain/workflow-id';
import type { PlanStatus } from '../workflows/messages';
import { requirePlan, type DatabaseContext } from './context';
import type { Transaction } from '../db/connection';

export interface PlanStatusView {
  planId: string;
  workflowId: string;
  accountId: string;
  accountName: string;
  status: PlanStatus;
  policy: string | null;
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

async function readPlanStatus(db: Transaction, planId: string): Promise<PlanStatusView> {
  const ctx = await requirePlan(db, planId);
  const [steps, promises, scheduleItems, taskRows, timeline] = await Promise.all([
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
  nextStep: string | null;
  nextActionAt: string | null;
}

export async function listPlans({ db }: DatabaseContext, filter: { status?: PlanStatus } = {}): Promise<PlanListRow[]> {
  const next = db
    .select({
      planId: orchestrationSteps.planId,
      key: sql<string>`(array_agg(${orchestrationSteps.key} order by ${orchestrationSteps.ordinal}))[1]`.as('next_key'),
      at: sql<Date>`min(${orchestrationSteps.scheduledFor})`.as('next_at'),
    })
    .from(orchestrationSteps)
    .where(inArray(orchestrationSteps.status, [...openStepStatuses]))
    .groupBy(orchestrationSteps.planId)
    .as('next');
  const rows = await db
    .select({
      planId: collectionPlans.id,
      accountId: accounts.id,
      accountName: accounts.name,
      status: collectionPlans.status,
      nextStep: next.key,
      nextActionAt: next.at,
    })
    .from(collectionPlans)
    .innerJoin(accounts, eq(accounts.id, collectionPlans.accountId))
    .leftJoin(next, eq(next.planId, collectionPlans.id))
    .where(filter.status ? and(eq(collectionPlans.status, filter.status)) : undefined)
    .orderBy(desc(collectionPlans.createdAt), asc(collectionPlans.id));
  return rows.map((r) => ({
    ...r,
    nextStep: r.nextStep ?? null,
    nextActionAt: r.nextActionAt ? new Date(r.nextActionAt).toISOString() : null,
  }));
}
