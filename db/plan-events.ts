// The plan events the engine sends out (webhooks): the catalogue, and where each comes from. An
// event is recorded by a trigger on the timeline (migration 0009) in the transaction of the change
// that caused it, so none is lost when a worker dies between the two and none is invented when
// the change rolls back. Delivery reads the recorded events; it never works them out again.

/** Every event type, in the order of a plan's life. */
export const planEventTypes = [
  'plan.initiated',
  'plan.step_completed',
  'plan.escalated',
  'plan.promise_made',
  'plan.promise_kept',
  'plan.promise_broken',
  'plan.paused',
  'plan.resumed',
  'plan.payment_applied',
  'plan.resolved',
  'plan.cancelled',
  'plan.written_off',
  'plan.sent_to_agency',
  'plan.service_cancelled',
] as const;
export type PlanEventType = (typeof planEventTypes)[number];

/** The version of the event body below; a change that breaks a receiver makes a new one. */
export const planEventVersion = 1;

/**
 * The body of every event, as sent (Standard Webhooks' `type`, `timestamp`, `data`). Amounts are
 * in minor units of the plan's currency; `owedMinor` is what the plan still owed right after the
 * change. Fields that do not apply to a type are left out.
 */
export interface PlanEventBody {
  type: PlanEventType;
  /** When the change happened (the journey's clock), ISO 8601 UTC. */
  timestamp: string;
  data: {
    /** `evt_…`: the same on every delivery attempt and redelivery (the `webhook-id` header). */
    id: string;
    version: typeof planEventVersion;
    planId: string;
    accountId: string;
    currency: string;
    owedMinor: number;
    /** The plan's status right after the change. */
    status: string;
    /** The timeline's words for it. */
    summary: string;
    /** plan.step_completed: the policy step, and what it did (`sent`, `skipped`, `task_created`). */
    step?: string;
    outcome?: 'sent' | 'skipped' | 'task_created';
    /** plan.payment_applied: the billing system's payment id and amount. */
    paymentId?: string;
    amountMinor?: number;
    /** plan.promise_*: the promise, and its amount (amountMinor). */
    promiseId?: string;
  };
}
