// Every refusal the service gives, as one sentence a person can act on and one code a program
// can branch on (the HTTP API maps each code to a status; the CLI prints the sentence).
// It imports no package, so a command that only reads the database loads no Temporal client
// (journey-errors.ts turns the journey's failures into these).

export const dunningErrorCodes = [
  'unknown_plan',
  'unknown_policy',
  'unknown_task',
  'unknown_invoice',
  'unknown_contact',
  'unknown_api_key',
  'unknown_report',
  'unknown_webhook',
  'unknown_event',
  'webhook_disabled',
  'pay_token_malformed',
  'pay_token_unsigned',
  'pay_token_expired',
  'not_running',
  'plan_closed',
  'already_paused',
  'not_paused',
  'invoice_held',
  'invoice_not_held',
  'task_closed',
  'promise_refused',
  'mail_rejected',
  'mail_unavailable',
  'invalid',
] as const;
export type DunningErrorCode = (typeof dunningErrorCodes)[number];

export class DunningError extends Error {
  override name = 'DunningError';
  constructor(
    message: string,
    readonly code: DunningErrorCode,
  ) {
    super(message);
  }
}
