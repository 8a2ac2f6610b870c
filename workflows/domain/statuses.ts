// Every status and kind a plan, step, task or promise can have: defined once, used by the
// workflow, the db schema (as CHECK lists and column types) and the client.

/** not_started: imported or created, no journey initiated yet. */
export const planStatuses = [
  'not_started',
  'in_progress',
  'on_hold',
  'promised',
  'escalated',
  'resolved',
  'cancelled',
  'written_off',
  'sent_to_agency',
  'service_cancelled',
] as const;
export type PlanStatus = (typeof planStatuses)[number];
export const closedPlanStatuses: readonly PlanStatus[] = ['resolved', 'cancelled', 'written_off', 'sent_to_agency', 'service_cancelled'];
export const isClosedStatus = (status: PlanStatus): boolean => closedPlanStatuses.includes(status);

export const stepActions = ['email', 'task', 'write_off', 'send_to_agency', 'cancel_service'] as const;
export type StepAction = (typeof stepActions)[number];

/**
 * A policy's last step may end dunning with one of these: the plan closes with the status given,
 * and its event goes out for the billing system to act on (post the loss, hand off, cut service).
 */
export const endActions = { write_off: 'written_off', send_to_agency: 'sent_to_agency', cancel_service: 'service_cancelled' } as const satisfies Record<string, PlanStatus>;
export type EndAction = keyof typeof endActions;
export const isEndAction = (action: StepAction): action is EndAction => action in endActions;

export const stepStatuses = ['pending', 'waiting', 'in_progress', 'completed', 'skipped', 'cancelled', 'failed'] as const;
export type StepStatus = (typeof stepStatuses)[number];
/** A step still ahead of the plan: not yet run. */
export const openStepStatuses: readonly StepStatus[] = ['pending', 'waiting'];
/** Statuses after which a step has a completion time. */
export const finishedStepStatuses: readonly StepStatus[] = ['completed', 'skipped', 'cancelled', 'failed'];

/** The next step the journey will run (policy order), if any is still ahead. */
export function nextOpenStep<S extends { status: string }>(steps: readonly S[]): S | undefined {
  return steps.find((s) => (openStepStatuses as readonly string[]).includes(s.status));
}

export const taskKinds = ['manual_escalation', 'promise_broken', 'email_failed', 'opted_out', 'no_contact', 'rep_escalation'] as const;
export type TaskKind = (typeof taskKinds)[number];
export const taskStatuses = ['open', 'done', 'cancelled'] as const;
export type TaskStatus = (typeof taskStatuses)[number];

export const promiseStatuses = ['open', 'kept', 'broken', 'cancelled'] as const;
export type PromiseStatus = (typeof promiseStatuses)[number];
export const promiseItemStatuses = promiseStatuses;

export const emailConsents = ['opted_in', 'opted_out'] as const;
export type EmailConsent = (typeof emailConsents)[number];
export const invoiceStatuses = ['open', 'paid', 'void', 'disputed'] as const;
/** late_fee: added by a policy step (one per plan and step), collected like any invoice. */
export const invoiceKinds = ['invoice', 'late_fee'] as const;
export const planItemStatuses = ['open', 'paid', 'disputed', 'removed'] as const;
export const emailProviders = ['outbox', 'resend'] as const;
export const emailStatuses = ['queued', 'sent', 'failed'] as const;
/** dunning: asks for money (counted against contact caps); transactional: a receipt or a confirmation. */
export const emailKinds = ['dunning', 'transactional'] as const;

/** Outcomes with an effect on the plan when a rep closes a task; any other text just closes it. */
export const taskOutcomeEffects = {
  write_off: 'the plan is written off',
  dispute: 'the plan is paused for the dispute',
} as const;
