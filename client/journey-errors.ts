// The journey's failures, as the Temporal client reports them, turned into DunningErrors: its
// own refusals of an update keep their sentence and get their code; "no such run" is told apart.
import { isGrpcServiceError, ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { isFailureType, type FailureType } from '../workflows/domain/failures';
import { DunningError, type DunningErrorCode } from './errors';

/** One code per failure type the workflow and activities raise: a new type must choose one. */
const codeOfFailure: Record<FailureType, DunningErrorCode> = {
  UnknownPlan: 'unknown_plan',
  MailRejected: 'mail_rejected',
  MailProviderUnavailable: 'mail_unavailable',
  PlanClosed: 'plan_closed',
  InvalidArgument: 'invalid',
  AlreadyPaused: 'already_paused',
  NotPaused: 'not_paused',
  UnknownTask: 'unknown_task',
  TaskClosed: 'task_closed',
  PromiseRefused: 'promise_refused',
  UnknownInvoice: 'unknown_invoice',
  InvoiceHeld: 'invoice_held',
  InvoiceNotHeld: 'invoice_not_held',
};

/**
 * The journey's own refusal of an update (its validator or handler), as a DunningError. A
 * failure of a type not in the list is no refusal but a fault: it stays an unexpected error.
 */
export function refusalOf(err: unknown): DunningError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  const type = cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
  return isFailureType(type) ? new DunningError(cause!.message, codeOfFailure[type]) : undefined;
}

const grpcNotFound = 5; // gRPC status NOT_FOUND: what the server answers for a finished or missing run

/** True when the plan's workflow is not running: never started, or its run has completed. */
export function isNoRunningJourney(err: unknown): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  return err instanceof ServiceError && isGrpcServiceError(err.cause) && err.cause.code === grpcNotFound;
}
