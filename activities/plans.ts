// Plan persistence for the journey. Every write is idempotent under retry: upserts on natural
// keys (plan + step, task id, payment id, timeline event key).
import { ApplicationFailure } from '@temporalio/activity';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/connection';
import {
  accounts,
  collectionPlanItems,
  collectionPlans,
  contacts,
  invoices,
  orchestrationSteps,
  paymentPromises,
  paymentScheduleItems,
  paymentSchedules,
  payments,
  tasks,
  timelineEvents,
} from '../db/schema';
import { closedPlanStatuses, workflowIdFor, type PlanStatus, type PromiseState, type StepState, type TaskState } from '../workflows/messages';
import type { DunningPolicy } from '../workflows/policy';
import { currencyDigits } from './money';
import { formatMoney } from '../templates';
import { computeSchedule, type ScheduledStep } from './calendar';
import type { ActivityDeps } from './deps';

export interface PlanContext {
  planId: string;
  status: PlanStatus;
  accountId: string;
  accountName: string;
  currency: string;
  locale: string;
  timeZone: string;
  contact?: { id: string; name: string; email: string; optedOut: boolean };
  /** Open invoices of the plan, oldest due first. */
  invoices: Array<{ id: string; number: string; issuedOn: string; dueOn: string; amountMinor: number; openMinor: number }>;
  outstandingMinor: number;
}

/** Reads a plan with its account, primary contact and open items; undefined if unknown. */
export async function loadPlanContext(db: Database, planId: string): Promise<PlanContext | undefined> {
  const [plan] = await db
    .select({
      planId: collectionPlans.id,
      status: sql<PlanStatus>`${collectionPlans.status}`,
      accountId: accounts.id,
      accountName: accounts.name,
      currency: collectionPlans.currency,
      locale: accounts.locale,
      timeZone: accounts.timezone,
    })
    .from(collectionPlans)
    .innerJoin(accounts, eq(accounts.id, collectionPlans.accountId))
    .where(eq(collectionPlans.id, planId));
  if (!plan) return undefined;
  const [contact] = await db
    .select()
    .from(contacts)
    .where(eq(contacts.accountId, plan.accountId))
    .orderBy(sql`${contacts.isPrimary} desc`, asc(contacts.email))
    .limit(1);
  const items = await db
    .select({
      id: invoices.id,
      number: invoices.number,
      issuedOn: invoices.issuedOn,
      dueOn: invoices.dueOn,
      amountMinor: invoices.amountMinor,
      openMinor: invoices.openMinor,
    })
    .from(collectionPlanItems)
    .innerJoin(invoices, eq(invoices.id, collectionPlanItems.invoiceId))
    .where(and(eq(collectionPlanItems.planId, planId), eq(collectionPlanItems.status, 'open'), sql`${invoices.openMinor} > 0`))
    .orderBy(asc(invoices.dueOn), asc(invoices.number));
  return {
    ...plan,
    contact: contact ? { id: contact.id, name: contact.name, email: contact.email, optedOut: contact.emailConsent === 'opted_out' } : undefined,
    invoices: items,
    outstandingMinor: items.reduce((sum, i) => sum + i.openMinor, 0),
  };
}

export interface PaymentInput {
  planId: string;
  paymentId: string;
  amountMinor: number;
  invoiceNumber?: string;
  receivedAt: string;
}

/**
 * Records a payment once (keyed by the billing system's payment id) and applies it to the
 * named invoice, else to the oldest open ones. Returns what is still owed.
 */
export interface PaymentApplied {
  /** False when the payment id was already recorded (a retry or a repeated report). */
  applied: boolean;
  outstandingMinor: number;
  amountDisplay: string;
  owedDisplay: string;
}

export async function applyPayment(db: Database, input: PaymentInput): Promise<PaymentApplied> {
  const applied = await db.transaction(async (tx) => {
    const [plan] = await tx
      .select({ accountId: collectionPlans.accountId, currency: collectionPlans.currency })
      .from(collectionPlans)
      .where(eq(collectionPlans.id, input.planId));
    if (!plan) throw unknownPlan(input.planId);
    const open = await tx
      .select({ id: invoices.id, number: invoices.number, openMinor: invoices.openMinor })
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
    for (const inv of named ? [named, ...open.filter((i) => i !== named)] : open) {
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
  });
  const ctx = (await loadPlanContext(db, input.planId))!;
  return {
    applied,
    outstandingMinor: ctx.outstandingMinor,
    amountDisplay: formatMoney(input.amountMinor, ctx.currency, ctx.locale),
    owedDisplay: formatMoney(ctx.outstandingMinor, ctx.currency, ctx.locale),
  };
}

function unknownPlan(planId: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'UnknownPlan', nonRetryable: true, message: `Unknown plan "${planId}".` });
}

export function createPlanActivities({ db, clock }: ActivityDeps) {
  return {
    /** Loads the plan, computes its calendar from the policy snapshot, marks it initiated. */
    async beginPlan(input: { planId: string; policy: DunningPolicy; initiatedAt: string }): Promise<{
      accountId: string;
      currency: string;
      outstandingMinor: number;
      owedDisplay: string;
      currencyDigits: number;
      steps: ScheduledStep[];
    }> {
      const ctx = await loadPlanContext(db, input.planId);
      if (!ctx) throw unknownPlan(input.planId);
      const initiatedAt = new Date(input.initiatedAt);
      const dueOn = ctx.invoices[0]?.dueOn ?? input.initiatedAt.slice(0, 10);
      const steps = computeSchedule(input.policy, { initiatedAt, dueOn }, ctx.timeZone);
      await db
        .update(collectionPlans)
        .set({
          policyName: input.policy.name,
          policySnapshot: input.policy,
          workflowId: workflowIdFor(input.planId),
          // postgres.js binds Dates only as typed columns, not inside raw sql: pass ISO text.
          initiatedAt: sql`coalesce(${collectionPlans.initiatedAt}, ${initiatedAt.toISOString()}::timestamptz)`,
          updatedAt: clock.now(),
        })
        .where(eq(collectionPlans.id, input.planId));
      return {
        accountId: ctx.accountId,
        currency: ctx.currency,
        outstandingMinor: ctx.outstandingMinor,
        owedDisplay: formatMoney(ctx.outstandingMinor, ctx.currency, ctx.locale),
        currencyDigits: currencyDigits(ctx.currency) ?? 2,
        steps,
      };
    },

    /** Writes the workflow's view of the plan: status, steps, tasks and new timeline events. */
    async syncPlan(input: {
      planId: string;
      status: PlanStatus;
      outstandingMinor: number;
      steps: StepState[];
      tasks: TaskState[];
      promises?: PromiseState[];
      events: Array<{ key: string; seq: number; kind: string; summary: string; at: string }>;
    }): Promise<void> {
      const now = clock.now();
      await db.transaction(async (tx) => {
        const closed = closedPlanStatuses.includes(input.status);
        await tx
          .update(collectionPlans)
          .set({ status: input.status, updatedAt: now, closedAt: closed ? sql`coalesce(${collectionPlans.closedAt}, ${now.toISOString()}::timestamptz)` : null })
          .where(eq(collectionPlans.id, input.planId));
        if (input.steps.length > 0) {
          await tx
            .insert(orchestrationSteps)
            .values(
              input.steps.map((s) => ({
                planId: input.planId,
                key: s.key,
                ordinal: s.ordinal,
                action: s.action,
                status: s.status,
                scheduledFor: new Date(s.notBefore ?? s.scheduledFor),
                completedAt: s.completedAt ? new Date(s.completedAt) : null,
                reason: s.reason ?? null,
                updatedAt: now,
              })),
            )
            .onConflictDoUpdate({
              target: [orchestrationSteps.planId, orchestrationSteps.key],
              set: {
                status: sql`excluded.status`,
                scheduledFor: sql`excluded.scheduled_for`,
                completedAt: sql`excluded.completed_at`,
                reason: sql`excluded.reason`,
                updatedAt: now,
              },
            });
        }
        if (input.tasks.length > 0) {
          await tx
            .insert(tasks)
            .values(
              input.tasks.map((t) => ({
                id: t.id,
                planId: input.planId,
                kind: t.kind,
                status: t.status,
                reason: t.reason,
                outcome: t.outcome ?? null,
                closedAt: t.status === 'open' ? null : now,
              })),
            )
            .onConflictDoUpdate({
              target: tasks.id,
              set: { status: sql`excluded.status`, outcome: sql`excluded.outcome`, closedAt: sql`coalesce(${tasks.closedAt}, excluded.closed_at)` },
            });
        }
        for (const p of input.promises ?? []) {
          const resolved = p.status === 'open' ? null : now;
          await tx
            .insert(paymentPromises)
            .values({ id: p.id, planId: input.planId, amountMinor: p.amountMinor, dueOn: new Date(p.dueOn), status: p.status, paidMinor: p.paidMinor, rep: p.rep ?? null, createdAt: new Date(p.createdAt), resolvedAt: resolved })
            .onConflictDoUpdate({
              target: paymentPromises.id,
              set: { status: p.status, paidMinor: p.paidMinor, resolvedAt: sql`coalesce(${paymentPromises.resolvedAt}, excluded.resolved_at)` },
            });
          await tx.insert(paymentSchedules).values({ id: p.id, promiseId: p.id, planId: input.planId }).onConflictDoNothing();
          await tx
            .insert(paymentScheduleItems)
            .values(p.items.map((i) => ({ scheduleId: p.id, seq: i.seq, amountMinor: i.amountMinor, dueOn: new Date(i.dueOn), status: i.status })))
            .onConflictDoUpdate({ target: [paymentScheduleItems.scheduleId, paymentScheduleItems.seq], set: { status: sql`excluded.status` } });
        }
        if (input.events.length > 0) {
          await tx
            .insert(timelineEvents)
            .values(input.events.map((e) => ({ planId: input.planId, eventKey: e.key, seq: e.seq, kind: e.kind, summary: e.summary, at: new Date(e.at) })))
            .onConflictDoNothing({ target: [timelineEvents.planId, timelineEvents.eventKey] });
        }
      });
    },

    /** Records a payment once and applies it; see applyPayment. */
    recordPayment(input: PaymentInput): Promise<PaymentApplied> {
      return applyPayment(db, input);
    },
  };
}

