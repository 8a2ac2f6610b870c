// The typed client: one function per verb. CLI, HTTP API and tests call these; each turns
// Temporal's failures into a DunningError whose message a person can act on.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { currencyDigits } from '../workflows/domain/money';
import { applyPayment, loadPlanContext, type PlanContext } from '../activities/plans';
import { formatMoney } from '../workflows/domain/money';
import type { Database } from '../db/connection';
import { getPolicy } from '../db/policies';
import type { DunningConfig } from '../worker/config';
import { dunningWorkflow, type DunningWorkflowInput } from '../workflows/dunning';
import {
  cancelUpdate,
  completeTaskUpdate,
  escalateUpdate,
  paymentReceivedSignal,
  pauseUpdate,
  recordPromiseUpdate,
  resumeUpdate,
  stateQuery,
  workflowIdFor,
  type PaymentReceived,
  type PlanState,
  type RecordPromiseInput,
} from '../workflows/messages';
import { closedPlanStatuses } from '../workflows/domain/statuses';
import { AccountId, DunningStatus, OutstandingAmount } from '../workflows/search-attributes';

export class DunningError extends Error {
  override name = 'DunningError';
  constructor(
    message: string,
    /** For the HTTP API: unknown_plan → 404, rejected → 422, conflict → 409, invalid → 400. */
    readonly code: 'unknown_plan' | 'unknown_policy' | 'not_running' | 'rejected' | 'invalid' | 'conflict',
  ) {
    super(message);
  }
}

export interface DunningContext {
  client: Client;
  db: Database;
  config: DunningConfig;
}

async function requirePlan(db: Database, planId: string): Promise<PlanContext> {
  const ctx = await loadPlanContext(db, planId);
  if (!ctx) throw new DunningError(`Unknown plan "${planId}".`, 'unknown_plan');
  return ctx;
}

function refuseIfClosed(plan: PlanContext): void {
  if (closedPlanStatuses.includes(plan.status)) throw new DunningError(`Plan "${plan.planId}" is already ${plan.status}.`, 'conflict');
}

/** Starts the plan's journey, or finds the one already running (never a second journey). */
export async function initiateDunning(
  { client, db, config }: DunningContext,
  input: { planId: string; policyName?: string },
): Promise<{ workflowId: string; runId: string; alreadyRunning: boolean; policy: string }> {
  const policyName = input.policyName ?? 'standard';
  const [plan, policy] = await Promise.all([requirePlan(db, input.planId), getPolicy(db, policyName)]);
  refuseIfClosed(plan);
  if (!policy) throw new DunningError(`Unknown policy "${policyName}"; see \`dunning policy list\`.`, 'unknown_policy');
  const workflowId = workflowIdFor(input.planId);
  const options = {
    workflowId,
    taskQueue: config.temporal.taskQueues.dunning,
    args: [{ planId: input.planId, policy, mailTaskQueue: config.temporal.taskQueues.mail }] as [DunningWorkflowInput],
    staticSummary: `${plan.accountName} (${plan.accountId}): ${formatMoney(plan.outstandingMinor, plan.currency, plan.locale)} owed`,
    staticDetails: `Collection plan ${input.planId} under policy "${policy.name}"`,
    typedSearchAttributes: new TypedSearchAttributes([
      { key: AccountId, value: plan.accountId },
      { key: DunningStatus, value: 'in_progress' },
      { key: OutstandingAmount, value: plan.outstandingMinor / 10 ** (currencyDigits(plan.currency) ?? 2) },
    ]),
  };
  try {
    // One call on the usual path: the server refuses a second run of a running journey...
    const handle = await client.workflow.start(dunningWorkflow, { ...options, workflowIdConflictPolicy: 'FAIL' });
    return { workflowId, runId: handle.firstExecutionRunId, alreadyRunning: false, policy: policy.name };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  // ...and initiating twice returns the running journey instead of starting a second one.
  const running = await client.workflow.getHandle(workflowId).describe();
  return { workflowId, runId: running.runId, alreadyRunning: true, policy: policy.name };
}

function planHandle(client: Client, planId: string) {
  return client.workflow.getHandle<typeof dunningWorkflow>(workflowIdFor(planId));
}

/** Maps Temporal's refusals to one sentence: the validator's reason, or "not running". */
async function explain<T>(db: Database, planId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new DunningError(err.cause?.message ?? err.message, 'rejected');
    }
    if (err instanceof WorkflowNotFoundError || (err instanceof Error && /workflow execution already completed/i.test(err.message))) {
      refuseIfClosed(await requirePlan(db, planId));
      throw new DunningError(`Plan "${planId}" has no running journey; start one with \`dunning initiate ${planId}\`.`, 'not_running');
    }
    throw err;
  }
}

/**
 * Reports a payment. A running journey gets it as a signal (idempotent by payment id); a plan
 * without one (never initiated, or already closed) has it recorded directly, so nothing is lost.
 */
export async function reportPayment(
  { client, db }: DunningContext,
  input: { planId: string } & PaymentReceived,
): Promise<{ delivered: 'workflow' | 'database' }> {
  const plan = await requirePlan(db, input.planId);
  if (!Number.isSafeInteger(input.amountMinor) || input.amountMinor <= 0) {
    throw new DunningError('The payment amount must be more than zero.', 'invalid');
  }
  if (input.invoiceNumber && !plan.invoices.some((i) => i.number === input.invoiceNumber)) {
    throw new DunningError(`Invoice "${input.invoiceNumber}" is not an open item of plan "${input.planId}".`, 'invalid');
  }
  const { planId, ...payment } = input;
  try {
    await planHandle(client, planId).signal(paymentReceivedSignal, payment);
    return { delivered: 'workflow' };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  await applyPayment(db, {
    planId,
    ...payment,
    receivedAt: payment.receivedAt ?? new Date().toISOString(),
  });
  return { delivered: 'database' };
}

export async function escalate(ctx: DunningContext, planId: string, reason: string) {
  return explain(ctx.db, planId, () => planHandle(ctx.client, planId).executeUpdate(escalateUpdate, { args: [{ reason }] }));
}

export async function pause(ctx: DunningContext, planId: string, reason: string): Promise<PlanState> {
  return explain(ctx.db, planId, () => planHandle(ctx.client, planId).executeUpdate(pauseUpdate, { args: [{ reason }] }));
}

export async function resume(ctx: DunningContext, planId: string): Promise<PlanState> {
  return explain(ctx.db, planId, () => planHandle(ctx.client, planId).executeUpdate(resumeUpdate, { args: [{}] }));
}

export async function completeTask(ctx: DunningContext, planId: string, taskId: string, outcome: string): Promise<PlanState> {
  return explain(ctx.db, planId, () =>
    planHandle(ctx.client, planId).executeUpdate(completeTaskUpdate, { args: [{ taskId, outcome }] }),
  );
}

/** Records a promise to pay; a refusal (past date, over what is owed, limit) says why. */
export async function recordPromise(ctx: DunningContext, planId: string, input: RecordPromiseInput) {
  return explain(ctx.db, planId, () => planHandle(ctx.client, planId).executeUpdate(recordPromiseUpdate, { args: [input] }));
}

export async function cancel(ctx: DunningContext, planId: string, reason: string): Promise<PlanState> {
  return explain(ctx.db, planId, () => planHandle(ctx.client, planId).executeUpdate(cancelUpdate, { args: [{ reason }] }));
}

/** The live state by query (running journeys only). */
export async function getState(ctx: DunningContext, planId: string): Promise<PlanState> {
  return explain(ctx.db, planId, () => planHandle(ctx.client, planId).query(stateQuery));
}

