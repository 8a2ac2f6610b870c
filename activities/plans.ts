// Plan persistence for the journey. Every write is idempotent under retry: upserts on natural
// keys (plan + step, task id, payment id, timeline event key).
import { ApplicationFailure } from '@temporalio/activity';
import { eq, sql } from 'drizzle-orm';
import { applyPayment, lastTimelineSeq, loadPlanContext, loadScheduleAnchors, policySnapshotWrite, statusOnInitiation, UnknownPlanError, type PaymentApplied, type PaymentInput } from '../db/plans';
import { collectionPlans } from '../db/schema';
import { failureTypes } from '../workflows/domain/failures';
import { closedPlanStatuses, type PlanStatus } from '../workflows/domain/statuses';
import { workflowIdFor, type PromiseState, type StepState, type TaskState, type TimelineEvent } from '../workflows/messages';
import type { DunningPolicy } from '../workflows/domain/policy';
import { currencyDigits, formatMoney } from '../workflows/domain/money';
import { computeSchedule, planSchedule, type ScheduledStep } from '../workflows/domain/calendar';
import type { ActivityDeps } from './deps';

/** A plan the db does not know: retrying cannot help, so the journey is told at once. */
export function unknownPlan(planId: string): ApplicationFailure {
  return ApplicationFailure.create({ type: failureTypes.UnknownPlan, nonRetryable: true, message: new UnknownPlanError(planId).message });
}

/** Each step's time from the anchors as they are after a payment. */
export interface PaymentSchedule {
  /** Due date of the earliest invoice still open. */
  dueOn: string;
  steps: Array<{ key: string; scheduledFor: string }>;
}

export function createPlanActivities({ db, clock }: Pick<ActivityDeps, 'db' | 'clock'>) {
  return {
    /** Loads the plan, computes its calendar from the policy snapshot, marks it initiated. */
    async beginPlan(input: { planId: string; policy: DunningPolicy; initiatedAt: string }): Promise<{
      accountId: string;
      currency: string;
      outstandingMinor: number;
      owedDisplay: string;
      currencyDigits: number;
      steps: ScheduledStep[];
      /** The last timeline seq already written (payments reported before the journey began). */
      timelineSeq: number;
    }> {
      const ctx = await loadPlanContext(db, input.planId);
      if (!ctx) throw unknownPlan(input.planId);
      const initiatedAt = new Date(input.initiatedAt);
      const { steps } = planSchedule(input.policy, ctx, initiatedAt);
      const policy = policySnapshotWrite(db, input.planId, input.policy);
      const [written] = await db
        .with(policy.snapshot)
        .update(collectionPlans)
        .set({
          policyName: input.policy.name,
          ...policy.columns,
          // Usually written by the initiating client already; this covers a client that died
          // between starting the journey and marking the plan: the version whose definition this is.
          policyVersion: sql`coalesce(${collectionPlans.policyVersion}, (select d.version from dunning_policies d
            where d.name = ${input.policy.name} and d.definition = ${JSON.stringify(input.policy)}::jsonb))`,
          workflowId: workflowIdFor(input.planId),
          status: statusOnInitiation,
          // postgres.js binds Dates only as typed columns, not inside raw sql: pass ISO text.
          initiatedAt: sql`coalesce(${collectionPlans.initiatedAt}, ${initiatedAt.toISOString()}::timestamptz)`,
          updatedAt: clock.now(),
        })
        .where(eq(collectionPlans.id, input.planId))
        // Read in the same statement: no round trip of its own for the last seq.
        .returning({ timelineSeq: lastTimelineSeq(input.planId) });
      return {
        accountId: ctx.accountId,
        currency: ctx.currency,
        outstandingMinor: ctx.outstandingMinor,
        owedDisplay: formatMoney(ctx.outstandingMinor, ctx.currency, ctx.locale),
        currencyDigits: currencyDigits(ctx.currency) ?? 2,
        steps,
        timelineSeq: written?.timelineSeq ?? 0,
      };
    },

    /**
     * Writes the workflow's view of the plan (status, steps, tasks, promises, new timeline
     * events) in one statement: one round trip and one commit, all or nothing.
     */
    async syncPlan(input: {
      planId: string;
      /**
       * The workflow's time of the sync. A plan already written by a later one is left alone:
       * a stale attempt (its workflow task timed out while this ran late) never overwrites a
       * newer state. Absent in activities scheduled by code from before it: written as before.
       */
      syncedAt?: string;
      status: PlanStatus;
      outstandingMinor: number;
      steps: StepState[];
      tasks: TaskState[];
      promises?: PromiseState[];
      events: TimelineEvent[];
    }): Promise<void> {
      const now = clock.now().toISOString();
      const closed = closedPlanStatuses.includes(input.status);
      const json = (rows: unknown[]) => JSON.stringify(rows);
      const steps = input.steps.map((s) => ({ ...s, scheduledFor: s.notBefore ?? s.scheduledFor }));
      const promises = input.promises ?? [];
      const items = promises.flatMap((p) => p.items.map((i) => ({ ...i, scheduleId: p.id })));
      const syncedAt = input.syncedAt ?? null;
      // postgres.js itself (not drizzle's sql): its fragments nest, so empty parts drop out.
      const pg = db.$client;
      // Data-modifying CTEs run as one statement; foreign keys are checked at its end. Every
      // part writes only if the plan row took this sync (w_plan returned it). A part with
      // nothing to write is left out, and an upsert skips rows that are already as written:
      // the tables' statement triggers (worklist, payments' steps) then see only real changes.
      const part = (rows: unknown[], fragment: ReturnType<typeof pg>) => (rows.length > 0 ? fragment : pg``);
      await pg`
        with w_plan as (
          update collection_plans
          set status = ${input.status}, updated_at = ${now}::timestamptz,
            closed_at = case when ${closed}::boolean then coalesce(closed_at, ${now}::timestamptz) end,
            synced_at = coalesce(${syncedAt}::timestamptz, synced_at)
          where id = ${input.planId} and (${syncedAt}::timestamptz is null or synced_at is null or synced_at <= ${syncedAt}::timestamptz)
          returning id
        )${part(steps, pg`, w_steps as (
          insert into orchestration_steps as s (plan_id, key, ordinal, action, status, scheduled_for, completed_at, reason, updated_at)
          select ${input.planId}, key, ordinal, action, status, "scheduledFor", "completedAt", reason, ${now}::timestamptz
          from json_to_recordset(${json(steps)}::json)
            as s(key text, ordinal int, action text, status text, "scheduledFor" timestamptz, "completedAt" timestamptz, reason text)
          where exists (select 1 from w_plan)
          on conflict (plan_id, key) do update set status = excluded.status, scheduled_for = excluded.scheduled_for,
            completed_at = excluded.completed_at, reason = excluded.reason, updated_at = excluded.updated_at
          where (s.status, s.scheduled_for, s.completed_at, s.reason)
            is distinct from (excluded.status, excluded.scheduled_for, excluded.completed_at, excluded.reason)
        )`)}${part(input.tasks, pg`, w_tasks as (
          insert into tasks as t (id, plan_id, kind, status, reason, outcome, closed_at)
          select id, ${input.planId}, kind, status, reason, outcome, case when status = 'open' then null else ${now}::timestamptz end
          from json_to_recordset(${json(input.tasks)}::json) as t(id text, kind text, status text, reason text, outcome text)
          where exists (select 1 from w_plan)
          on conflict (id) do update set status = excluded.status, outcome = excluded.outcome,
            closed_at = coalesce(t.closed_at, excluded.closed_at)
          where (t.status, t.outcome, t.closed_at) is distinct from (excluded.status, excluded.outcome, coalesce(t.closed_at, excluded.closed_at))
        )`)}${part(promises, pg`, w_promises as (
          insert into payment_promises as pp (id, plan_id, amount_minor, due_on, status, paid_minor, rep, created_at, resolved_at)
          select id, ${input.planId}, "amountMinor", "dueOn", status, "paidMinor", rep, "createdAt",
            case when status = 'open' then null else ${now}::timestamptz end
          from json_to_recordset(${json(promises)}::json)
            as p(id text, "amountMinor" bigint, "dueOn" timestamptz, status text, "paidMinor" bigint, rep text, "createdAt" timestamptz)
          where exists (select 1 from w_plan)
          on conflict (id) do update set status = excluded.status, paid_minor = excluded.paid_minor,
            resolved_at = coalesce(pp.resolved_at, excluded.resolved_at)
          where (pp.status, pp.paid_minor, pp.resolved_at)
            is distinct from (excluded.status, excluded.paid_minor, coalesce(pp.resolved_at, excluded.resolved_at))
        ), w_schedules as (
          insert into payment_schedules (id, promise_id, plan_id)
          select id, id, ${input.planId} from json_to_recordset(${json(promises)}::json) as p(id text)
          where exists (select 1 from w_plan)
          on conflict do nothing
        )`)}${part(items, pg`, w_items as (
          insert into payment_schedule_items as si (schedule_id, seq, amount_minor, due_on, status)
          select "scheduleId", seq, "amountMinor", "dueOn", status
          from json_to_recordset(${json(items)}::json) as i("scheduleId" text, seq int, "amountMinor" bigint, "dueOn" timestamptz, status text)
          where exists (select 1 from w_plan)
          on conflict (schedule_id, seq) do update set status = excluded.status
          where si.status is distinct from excluded.status
        )`)}${part(input.events, pg`, w_events as (
          insert into timeline_events (plan_id, event_key, seq, kind, summary, at)
          select ${input.planId}, key, seq, kind, summary, at
          from json_to_recordset(${json(input.events)}::json) as e(key text, seq int, kind text, summary text, at timestamptz)
          where exists (select 1 from w_plan)
          on conflict (plan_id, event_key) do nothing
        )`)}${input.status === 'sent_to_agency' ? pg`, w_handoff as (
          -- A plan the policy hands to an agency: what it owed, invoice by invoice, kept once.
          insert into agency_handoffs (plan_id, account_id, currency, owed_minor, items, handed_off_at)
          select p.id, p.account_id, p.currency, coalesce(sum(i.open_minor), 0),
            coalesce(jsonb_agg(jsonb_build_object('number', i.number, 'kind', i.kind, 'dueOn', i.due_on, 'openMinor', i.open_minor)
              order by i.due_on, i.number) filter (where i.id is not null), '[]'::jsonb),
            ${now}::timestamptz
          from collection_plans p
          left join collection_plan_items ci on ci.plan_id = p.id and ci.status = 'open'
          left join invoices i on i.id = ci.invoice_id and i.open_minor > 0
          where p.id = ${input.planId} and exists (select 1 from w_plan)
          group by p.id
          on conflict (plan_id) do nothing
        )` : pg``}
        select 1`;
    },

    /**
     * Holds one of the plan's open invoices for a dispute (its item becomes disputed: out of
     * what is owed and the emails), or releases a held one. Idempotent: a retry finds the item
     * already in the state asked for. What the plan owes after, and what the invoice owes.
     */
    async setInvoiceHold(input: { planId: string; invoiceNumber: string; held: boolean; reason?: string }): Promise<{ outstandingMinor: number; amountMinor: number }> {
      const [item] = await db.execute<{ status: string; openMinor: number }>(sql`
        update collection_plan_items ci
        set status = case when ${input.held}::boolean then 'disputed' else 'open' end,
          hold_reason = case when ${input.held}::boolean then ${input.reason ?? null}::text end
        from invoices i
        where ci.plan_id = ${input.planId} and i.id = ci.invoice_id and i.number = ${input.invoiceNumber}
          and ci.status in ('open', 'disputed') and i.open_minor > 0
        returning ci.status, i.open_minor::float8 as "openMinor"`);
      // Released after it was paid in full while held: nothing left to collect, and no longer held.
      const paidWhileHeld = !item && !input.held && (await db.execute(sql`
        select 1 from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = ${input.planId} and i.number = ${input.invoiceNumber} and ci.status = 'paid'`)).length > 0;
      if (!item && !paidWhileHeld) {
        throw ApplicationFailure.create({
          type: failureTypes.UnknownInvoice,
          nonRetryable: true,
          message: `The plan has no open invoice "${input.invoiceNumber}".`,
        });
      }
      // What is owed now, as the emails count it (held items left out).
      const plan = await loadPlanContext(db, input.planId);
      if (!plan) throw unknownPlan(input.planId);
      return { outstandingMinor: plan.outstandingMinor, amountMinor: item?.openMinor ?? 0 };
    },

    /**
     * Records a payment once and applies it; see applyPayment. While something is still owed it
     * also answers the calendar anchored on the earliest invoice still open, so the journey's
     * steps ahead follow what is owed: a paid first invoice no longer dates the reminders.
     */
    async recordPayment(input: PaymentInput): Promise<PaymentApplied & { schedule?: PaymentSchedule }> {
      try {
        const applied = await applyPayment(db, input);
        const anchors = applied.outstandingMinor > 0 ? await loadScheduleAnchors(db, input.planId) : undefined;
        if (!anchors) return applied;
        const steps = computeSchedule(anchors.policy, anchors, anchors.timeZone).map((s) => ({ key: s.key, scheduledFor: s.scheduledFor }));
        return { ...applied, schedule: { dueOn: anchors.dueOn, steps } };
      } catch (err) {
        throw err instanceof UnknownPlanError ? unknownPlan(input.planId) : err;
      }
    },
  };
}

