// The journey's verbs: one function per verb, `verb(ctx, {…})`, returning plain data. The CLI,
// the HTTP API and tests call these; a refusal is a DunningError with the journey's own sentence
// and one code per failure type.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { applyPaymentWithoutJourney, isHeldInvoice, markInitiated } from '../db/plans';
import { getPolicyVersion } from '../db/policies';
import { currencyDigits, formatMoney, toMajorUnits } from '../workflows/domain/money';
import { dunningWorkflow, type DunningWorkflowInput } from '../workflows/dunning';
import {
  cancelUpdate,
  completeTaskUpdate,
  escalateUpdate,
  paymentReceivedSignal,
  pauseUpdate,
  holdInvoiceUpdate,
  releaseInvoiceUpdate,
  recordPromiseUpdate,
  resumeUpdate,
  stateQuery,
  workflowIdFor,
  type CancelInput,
  type CompleteTaskInput,
  type EscalateInput,
  type PauseInput,
  type HoldInvoiceInput,
  type ReleaseInvoiceInput,
  type PaymentReceived,
  type PlanState,
  type ResumeInput,
  type PlanStatus,
  type RecordPromiseInput,
} from '../workflows/messages';
import { AccountId, DunningStatus, OutstandingAmount } from '../workflows/search-attributes';
import { refuseIfClosed, requirePlan, unknownPolicy, type DunningContext } from './context';
import { DunningError } from './errors';
import { choosePolicy, DEFAULT_POLICY } from './segments';
import { isNoRunningJourney, refusalOf } from './journey-errors';

export { DunningError } from './errors';
export type { DunningContext } from './context';

/** A plan's live state with the account's locale, so callers can write its money. */
export type PlanStateView = PlanState & { locale: string };

/** Which segmentation rule picked a plan's policy, when no policy was named. */
export interface PickedBy {
  rulesVersion: number;
  rule: string;
}

/**
 * Starts the plan's journey, or finds the one already running (never a second journey). Without
 * a policy named, the segmentation rules in force pick one (`standard` when none were ever set).
 */
export async function initiateDunning(
  { client, db, config }: DunningContext,
  input: { planId: string; policyName?: string },
): Promise<{ workflowId: string; runId: string; alreadyRunning: boolean; policy: string; pickedBy?: PickedBy }> {
  // A named policy is read at once; a picked one as soon as the rules have picked it.
  const choosing = choosePolicy({ db }, input);
  const versioning = choosing.then((c) => getPolicyVersion(db, c?.policy ?? DEFAULT_POLICY));
  const [plan, choice, versioned] = await Promise.all([requirePlan(db, input.planId), choosing, versioning]);
  refuseIfClosed(plan);
  if (!versioned) throw unknownPolicy(choice?.policy ?? DEFAULT_POLICY);
  const { policy, version } = versioned;
  const pickedBy = choice?.by === 'rule' ? { rulesVersion: choice.rulesVersion, rule: choice.rule } : undefined;
  const workflowId = workflowIdFor(input.planId);
  const options = {
    workflowId,
    taskQueue: config.temporal.taskQueues.dunning,
    args: [{ planId: input.planId, policy, mailTaskQueue: config.temporal.taskQueues.mail }] as [DunningWorkflowInput],
    staticSummary: `${plan.accountName} (${plan.accountId}): ${formatMoney(plan.outstandingMinor, plan.currency, plan.locale)} owed`,
    staticDetails: `Collection plan ${input.planId} under policy "${policy.name}"${pickedBy ? ` (segmentation rule "${pickedBy.rule}", rules version ${pickedBy.rulesVersion})` : ''}`,
    // Names the policy for a second initiate that comes before the journey has written it.
    memo: { policy: policy.name },
    typedSearchAttributes: new TypedSearchAttributes([
      { key: AccountId, value: plan.accountId },
      { key: DunningStatus, value: 'in_progress' },
      { key: OutstandingAmount, value: toMajorUnits(plan.outstandingMinor, currencyDigits(plan.currency)) },
    ]),
  };
  try {
    // One call on the usual path: the server refuses a second run of a running journey...
    const handle = await client.workflow.start(dunningWorkflow, { ...options, workflowIdConflictPolicy: 'FAIL' });
    await markInitiated(db, input.planId, { name: policy.name, version }, pickedBy);
    return { workflowId, runId: handle.firstExecutionRunId, alreadyRunning: false, policy: policy.name, ...(pickedBy ? { pickedBy } : {}) };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  // ...and initiating twice returns the running journey, under the policy it runs with.
  const running = await client.workflow.getHandle(workflowId).describe();
  const memoPolicy = typeof running.memo?.policy === 'string' ? running.memo.policy : undefined;
  return { workflowId, runId: running.runId, alreadyRunning: true, policy: plan.policyName ?? memoPolicy ?? policy.name };
}

function planHandle(client: Client, planId: string) {
  return client.workflow.getHandle<typeof dunningWorkflow>(workflowIdFor(planId));
}
type PlanHandle = ReturnType<typeof planHandle>;

/**
 * Calls the plan's journey; a refusal comes back as the journey's sentence with its code, and
 * a plan without a running journey says whether it is closed or never started.
 */
async function callJourney<T>(ctx: DunningContext, planId: string, call: (handle: PlanHandle) => Promise<T>): Promise<T> {
  try {
    return await call(planHandle(ctx.client, planId));
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal) throw refusal;
    if (!isNoRunningJourney(err)) throw err;
    // Read again: the plan may have closed since the caller last looked.
    refuseIfClosed(await requirePlan(ctx.db, planId));
    throw new DunningError(`Plan "${planId}" has no running journey; start one with \`dunning initiate ${planId}\`.`, 'not_running');
  }
}

/** An update that answers with the plan's state, and the locale to write its money in. */
async function updateState(ctx: DunningContext, planId: string, call: (handle: PlanHandle) => Promise<PlanState>): Promise<PlanStateView> {
  const plan = await requirePlan(ctx.db, planId);
  const state = await callJourney(ctx, planId, call);
  return { ...state, locale: plan.locale };
}

export interface PaymentReport {
  /** workflow: the running journey applies it; database: no journey runs, it was recorded directly. */
  delivered: 'workflow' | 'database';
  planId: string;
  paymentId: string;
  amountMinor: number;
  currency: string;
  locale: string;
}

/**
 * Reports a payment. A running journey gets it as a signal (idempotent by payment id); a plan
 * without one (never initiated, or already closed) has it recorded directly, on its timeline
 * too, and is resolved when nothing is owed any more, so nothing is lost.
 */
export async function reportPayment(ctx: DunningContext, input: { planId: string } & PaymentReceived): Promise<PaymentReport> {
  const plan = await requirePlan(ctx.db, input.planId);
  if (!Number.isSafeInteger(input.amountMinor) || input.amountMinor <= 0) {
    throw new DunningError('The payment amount must be more than zero.', 'invalid');
  }
  // An invoice held for a dispute may be paid by name too: it is still the customer's to pay.
  if (input.invoiceNumber && !plan.invoices.some((i) => i.number === input.invoiceNumber) && !(await isHeldInvoice(ctx.db, input.planId, input.invoiceNumber))) {
    throw new DunningError(`Invoice "${input.invoiceNumber}" is not an open item of plan "${input.planId}".`, 'invalid');
  }
  const { planId, ...payment } = input;
  const report = { planId, paymentId: payment.paymentId, amountMinor: payment.amountMinor, currency: plan.currency, locale: plan.locale };
  try {
    await planHandle(ctx.client, planId).signal(paymentReceivedSignal, payment);
    return { delivered: 'workflow', ...report };
  } catch (err) {
    if (!isNoRunningJourney(err)) throw err;
  }
  const now = new Date();
  await applyPaymentWithoutJourney(ctx.db, { planId, ...payment, receivedAt: payment.receivedAt ?? now.toISOString() }, now);
  return { delivered: 'database', ...report };
}

export function escalate(ctx: DunningContext, input: { planId: string } & EscalateInput): Promise<{ taskId: string }> {
  const { planId, ...escalation } = input;
  return callJourney(ctx, planId, (h) => h.executeUpdate(escalateUpdate, { args: [escalation] }));
}

/** Pauses the plan; with `until` (an ISO instant) it resumes by itself then. */
export function pause(ctx: DunningContext, input: { planId: string } & PauseInput): Promise<PlanStateView> {
  const { planId, ...pausing } = input;
  return updateState(ctx, planId, (h) => h.executeUpdate(pauseUpdate, { args: [pausing] }));
}

/**
 * Holds one invoice for a dispute: out of what is owed, the emails and the promise limits while
 * the plan's other invoices are collected; with `until` (an ISO instant) it comes back by itself.
 */
export function holdInvoice(ctx: DunningContext, input: { planId: string } & HoldInvoiceInput): Promise<PlanStateView> {
  const { planId, ...holding } = input;
  return updateState(ctx, planId, (h) => h.executeUpdate(holdInvoiceUpdate, { args: [holding] }));
}

export function releaseInvoice(ctx: DunningContext, input: { planId: string } & ReleaseInvoiceInput): Promise<PlanStateView> {
  const { planId, ...releasing } = input;
  return updateState(ctx, planId, (h) => h.executeUpdate(releaseInvoiceUpdate, { args: [releasing] }));
}

export function resume(ctx: DunningContext, input: { planId: string } & ResumeInput): Promise<PlanStateView> {
  const { planId, ...resuming } = input;
  return updateState(ctx, planId, (h) => h.executeUpdate(resumeUpdate, { args: [resuming] }));
}

export function completeTask(ctx: DunningContext, input: { planId: string } & CompleteTaskInput): Promise<PlanStateView> {
  const { planId, ...task } = input;
  return updateState(ctx, planId, (h) => h.executeUpdate(completeTaskUpdate, { args: [task] }));
}

export function cancel(ctx: DunningContext, input: { planId: string } & CancelInput): Promise<PlanStateView> {
  const { planId, ...cancelling } = input;
  return updateState(ctx, planId, (h) => h.executeUpdate(cancelUpdate, { args: [cancelling] }));
}

/** Records a promise to pay; a refusal (past date, over what is owed, limit) says why. */
export function recordPromise(ctx: DunningContext, input: { planId: string } & RecordPromiseInput): Promise<{ promiseId: string; status: PlanStatus }> {
  const { planId, ...promise } = input;
  return callJourney(ctx, planId, (h) => h.executeUpdate(recordPromiseUpdate, { args: [promise] }));
}

/** The live state by query (running journeys only). */
export function getState(ctx: DunningContext, input: { planId: string }): Promise<PlanState> {
  return callJourney(ctx, input.planId, (h) => h.query(stateQuery));
}
