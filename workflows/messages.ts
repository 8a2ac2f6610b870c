// Every signal, update and query, with its input type: defined once, imported by the workflow,
// client, CLI and tests. No string names at call sites.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PlanStatus, PromiseStatus, StepAction, StepStatus, TaskKind, TaskStatus } from './domain/statuses';

export { workflowIdFor } from './domain/workflow-id';

export type { PlanStatus, StepStatus } from './domain/statuses';

export interface StepState {
  key: string;
  ordinal: number;
  action: StepAction;
  template?: string;
  status: StepStatus;
  /** ISO instant the step falls due (its anchor + offset). */
  scheduledFor: string;
  /** Set when the send window moved the step later. */
  notBefore?: string;
  completedAt?: string;
  reason?: string;
}

export interface TaskState {
  id: string;
  kind: TaskKind;
  status: TaskStatus;
  reason: string;
  outcome?: string;
}

export interface PromiseItemState {
  seq: number;
  amountMinor: number;
  /** ISO instant the installment is due. */
  dueOn: string;
  status: PromiseStatus;
}

export interface PromiseState {
  id: string;
  amountMinor: number;
  /** ISO instant of the last (or only) payment date. */
  dueOn: string;
  status: PromiseStatus;
  rep?: string;
  createdAt: string;
  /** Payments received since the promise was made, matched to it. */
  paidMinor: number;
  /** The payment schedule: one item for a plain promise, several for installments. */
  items: PromiseItemState[];
}

export interface PlanState {
  planId: string;
  accountId: string;
  status: PlanStatus;
  currency: string;
  /** Minor-unit digits of the currency (2 for USD, 0 for JPY), for messages. */
  currencyDigits?: number;
  outstandingMinor: number;
  steps: StepState[];
  tasks: TaskState[];
  promises: PromiseState[];
  /** `until`: the ISO instant the plan resumes by itself, when the pause has an end date. */
  paused?: { reason: string; since: string; until?: string };
  /**
   * Invoices held for a dispute: out of what is owed, the emails and the promise limits while
   * the others are collected; each comes back when released, or by itself at `until`.
   */
  heldInvoices?: HeldInvoice[];
  nextActionAt?: string;
  closedReason?: string;
}

/** A timeline entry as the journey hands it to the db (syncPlan). */
export interface TimelineEvent {
  /** Makes the db write idempotent. */
  key: string;
  /** Keeps the order. */
  seq: number;
  kind: string;
  summary: string;
  at: string;
}

// --- billing -------------------------------------------------------------------------------

export interface PaymentReceived {
  /** The billing system's payment id: the idempotency key (a repeat is ignored). */
  paymentId: string;
  amountMinor: number;
  invoiceNumber?: string;
  receivedAt?: string;
}
export const paymentReceivedSignal = defineSignal<[PaymentReceived]>('paymentReceived');

// --- reps ----------------------------------------------------------------------------------

/** Who asks, for the timeline ("by Dana"): the API key's name. Left out by older callers. */
export interface Actor {
  by?: string;
}

export interface EscalateInput extends Actor {
  reason: string;
}
export const escalateUpdate = defineUpdate<{ taskId: string }, [EscalateInput]>('escalate');

export interface PauseInput extends Actor {
  reason: string;
  /** ISO instant the pause ends: the plan resumes by itself then (a rep may resume it sooner). */
  until?: string;
}
export const pauseUpdate = defineUpdate<PlanState, [PauseInput]>('pause');

export interface HeldInvoice {
  invoiceNumber: string;
  reason: string;
  since: string;
  /** ISO instant the hold ends by itself. */
  until?: string;
  /** What the invoice still owed when it was held. */
  amountMinor: number;
}
export interface HoldInvoiceInput extends Actor {
  invoiceNumber: string;
  reason: string;
  /** ISO instant the hold ends: the invoice is collected again then (a rep may release it sooner). */
  until?: string;
}
export const holdInvoiceUpdate = defineUpdate<PlanState, [HoldInvoiceInput]>('holdInvoice');
export interface ReleaseInvoiceInput extends Actor {
  invoiceNumber: string;
}
export const releaseInvoiceUpdate = defineUpdate<PlanState, [ReleaseInvoiceInput]>('releaseInvoice');
export type ResumeInput = Actor;
export const resumeUpdate = defineUpdate<PlanState, [ResumeInput]>('resume');

export interface CompleteTaskInput extends Actor {
  taskId: string;
  /** write_off closes the plan, dispute pauses it; any other word is recorded as it is. */
  outcome: string;
  /** What the rep wants remembered with it, on the timeline. */
  note?: string;
}
export const completeTaskUpdate = defineUpdate<PlanState, [CompleteTaskInput]>('completeTask');

export interface CancelInput extends Actor {
  reason: string;
}
export const cancelUpdate = defineUpdate<PlanState, [CancelInput]>('cancel');

export interface RecordPromiseInput {
  /** Total promised; for installments it must equal their sum (or be left out). */
  amountMinor?: number;
  /** ISO date-time of the payment (a plain promise). */
  dueAt?: string;
  /** A payment schedule (hardship plan): dated amounts, each monitored on its own date. */
  installments?: Array<{ amountMinor: number; dueAt: string }>;
  rep?: string;
}
export const recordPromiseUpdate = defineUpdate<{ promiseId: string; status: PlanStatus }, [RecordPromiseInput]>('recordPromise');

// --- ops -----------------------------------------------------------------------------------

export const stateQuery = defineQuery<PlanState>('state');
