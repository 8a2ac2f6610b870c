// Failure types: the `type` of every ApplicationFailure the engine raises, defined once. The
// workflow and activities throw them; the client maps each to one error code for the CLI and
// the HTTP API; retry policies list the non-retryable ones from here.

export const failureTypes = {
  /** No plan with that id in the db (an activity cannot do anything about it). */
  UnknownPlan: 'UnknownPlan',
  /** The mail provider refused the message for good (bad address, invalid request). */
  MailRejected: 'MailRejected',
  /** The mail provider is rate-limiting or down (429, 5xx, network): retried with backoff. */
  MailProviderUnavailable: 'MailProviderUnavailable',
  /** An update to a plan that is resolved, cancelled or written off. */
  PlanClosed: 'PlanClosed',
  /** A required field of an update is missing or empty. */
  InvalidArgument: 'InvalidArgument',
  AlreadyPaused: 'AlreadyPaused',
  NotPaused: 'NotPaused',
  UnknownTask: 'UnknownTask',
  TaskClosed: 'TaskClosed',
  /** A promise to pay the plan's rules refuse (date, amount, limit, an open promise). */
  PromiseRefused: 'PromiseRefused',
  /** No open (or held) invoice of that number on the plan. */
  UnknownInvoice: 'UnknownInvoice',
  InvoiceHeld: 'InvoiceHeld',
  InvoiceNotHeld: 'InvoiceNotHeld',
} as const;
export type FailureType = keyof typeof failureTypes;

export function isFailureType(type: string | undefined): type is FailureType {
  return type !== undefined && Object.hasOwn(failureTypes, type);
}
