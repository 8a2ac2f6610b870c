// Plan persistence for the journey. Every write is idempotent under retry: upserts on natural
// keys (plan + step, task id, payment id, timeline event key).
import { ApplicationFailure } from '@temporalio/activity';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/connection';
import {
  collectionPlanItems,
  collectionPlans,
  invoices,
  payments,
} from '../db/schema';
import { closedPlanStatuses, type PlanStatus } from '../workflows/domain/statuses';
import { workflowIdFor, type PromiseState, type StepState, type TaskState } from '../workflows/messages';
import type { DunningPolicy } from '../workflows/domain/policy';
import { currencyDigits } from '../workflows/domain/money';
import { formatMoney } from '../workflows/domain/money';
import { computeSchedule, type ScheduledStep } from '../workflows/domain/calendar';
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

/**
 * Reads a plan with its account, primary contact and open items (oldest due first) in one
 * query; undefined if unknown.
 */
export async function loadPlanContext(db: Database, planId: string): Promise<PlanContext | undefined> {
  const [row] = await db.$client<
    Array<Omit<PlanContext, 'contact' | 'outstandingMinor'> & { contact: { id: string; name: string; email: string; consent: string } | null }>
  >`
    select p.id as "planId", p.status, a.id as "accountId", a.name as "accountName", p.currency, a.locale, a.timezone as "timeZone",
      (select json_build_object('id', c.id, 'name', c.name, 'email', c.email, 'consent', c.email_consent)
        from contacts c where c.account_id = a.id order by c.is_primary desc, c.email limit 1) as contact,
      coalesce((select json_agg(json_build_object('id', i.id, 'number', i.number, 'issuedOn', i.issued_on, 'dueOn', i.due_on,
          'amountMinor', i.amount_minor, 'openMinor', i.open_minor) order by i.due_on, i.number)
        from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open' and i.open_minor > 0), '[]') as invoices
    from collection_plans p join accounts a on a.id = p.account_id
    where p.id = ${planId}`;
  if (!row) return undefined;
  const { contact, ...plan } = row;
  return {
    ...plan,
    contact: contact ? { id: contact.id, name: contact.name, email: contact.email, optedOut: contact.consent === 'opted_out' } : undefined,
    outstandingMinor: plan.invoices.reduce((sum, i) => sum + i.openMinor, 0),
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

    /**
     * Writes the workflow's view of the plan (status, steps, tasks, promises, new timeline
     * events) in one statement: one round trip and one commit, all or nothing.
     */
    async syncPlan(input: {
      planId: string;
      status: PlanStatus;
      outstandingMinor: number;
      steps: StepState[];
      tasks: TaskState[];
      promises?: PromiseState[];
      events: Array<{ key: string; seq: number; kind: string; summary: string; at: string }>;
    }): Promise<void> {
      const now = clock.now().toISOString();
      const closed = closedPlanStatuses.includes(input.status);
      const json = (rows: unknown[]) => JSON.stringify(rows);
      const steps = input.steps.map((s) => ({ ...s, scheduledFor: s.notBefore ?? s.scheduledFor }));
      const promises = input.promises ?? [];
      const items = promises.flatMap((p) => p.items.map((i) => ({ ...i, scheduleId: p.id })));
      // Data-modifying CTEs run as one statement; foreign keys are checked at its end.
      await db.$client`
        with w_plan as (
          update collection_plans
          set status = ${input.status}, updated_at = ${now}::timestamptz,
            closed_at = case when ${closed}::boolean then coalesce(closed_at, ${now}::timestamptz) end
          where id = ${input.planId}
        ), w_steps as (
          insert into orchestration_steps (plan_id, key, ordinal, action, status, scheduled_for, completed_at, reason, updated_at)
          select ${input.planId}, key, ordinal, action, status, "scheduledFor", "completedAt", reason, ${now}::timestamptz
          from json_to_recordset(${json(steps)}::json)
            as s(key text, ordinal int, action text, status text, "scheduledFor" timestamptz, "completedAt" timestamptz, reason text)
          on conflict (plan_id, key) do update set status = excluded.status, scheduled_for = excluded.scheduled_for,
            completed_at = excluded.completed_at, reason = excluded.reason, updated_at = excluded.updated_at
        ), w_tasks as (
          insert into tasks (id, plan_id, kind, status, reason, outcome, closed_at)
          select id, ${input.planId}, kind, status, reason, outcome, case when status = 'open' then null else ${now}::timestamptz end
          from json_to_recordset(${json(input.tasks)}::json) as t(id text, kind text, status text, reason text, outcome text)
          on conflict (id) do update set status = excluded.status, outcome = excluded.outcome,
            closed_at = coalesce(tasks.closed_at, excluded.closed_at)
        ), w_promises as (
          insert into payment_promises (id, plan_id, amount_minor, due_on, status, paid_minor, rep, created_at, resolved_at)
          select id, ${input.planId}, "amountMinor", "dueOn", status, "paidMinor", rep, "createdAt",
            case when status = 'open' then null else ${now}::timestamptz end
          from json_to_recordset(${json(promises)}::json)
            as p(id text, "amountMinor" bigint, "dueOn" timestamptz, status text, "paidMinor" bigint, rep text, "createdAt" timestamptz)
          on conflict (id) do update set status = excluded.status, paid_minor = excluded.paid_minor,
            resolved_at = coalesce(payment_promises.resolved_at, excluded.resolved_at)
        ), w_schedules as (
          insert into payment_schedules (id, promise_id, plan_id)
          select id, id, ${input.planId} from json_to_recordset(${json(promises)}::json) as p(id text)
          on conflict do nothing
        ), w_items as (
          insert into payment_schedule_items (schedule_id, seq, amount_minor, due_on, status)
          select "scheduleId", seq, "amountMinor", "dueOn", status
          from json_to_recordset(${json(items)}::json) as i("scheduleId" text, seq int, "amountMinor" bigint, "dueOn" timestamptz, status text)
          on conflict (schedule_id, seq) do update set status = excluded.status
        ), w_events as (
          insert into timeline_events (plan_id, event_key, seq, kind, summary, at)
          select ${input.planId}, key, seq, kind, summary, at
          from json_to_recordset(${json(input.events)}::json) as e(key text, seq int, kind text, summary text, at timestamptz)
          on conflict (plan_id, event_key) do nothing
        )
        select 1`;
    },

    /** Records a payment once and applies it; see applyPayment. */
    recordPayment(input: PaymentInput): Promise<PaymentApplied> {
      return applyPayment(db, input);
    },
  };
}

