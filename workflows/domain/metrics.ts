// The engine's own Prometheus metrics, named once for the workflow, the activities and the
// dashboard. Label values are bounded: templates and step keys come from policies, outcomes
// from the fixed lists below; never a plan id.

export const metricNames = {
  emails: 'dunning_emails_total',
  steps: 'dunning_steps_total',
  promises: 'dunning_promises_total',
  payments: 'dunning_payments_total',
  webhookAttempts: 'dunning_webhook_attempts_total',
  webhookEndpointsDisabled: 'dunning_webhook_endpoints_disabled_total',
  mailRequests: 'dunning_mail_provider_requests_total',
  mailBatchMessages: 'dunning_mail_batch_messages',
} as const;

export const metricHelp = {
  emails: 'Dunning and transactional emails by template and outcome (sent, skipped, deferred to the send window, failed for good, error to be retried)',
  steps: 'Policy steps completed, by step key',
  promises: 'Promises to pay by outcome (made, kept, broken)',
  payments: 'Payments applied to a plan',
  webhookAttempts: 'Webhook delivery attempts by outcome (delivered, failed)',
  webhookEndpointsDisabled: 'Webhook endpoints disabled after a day of failed deliveries',
  mailRequests: 'Batch requests to the mail provider by provider and outcome (sent, error to be retried, rejected for good)',
  mailBatchMessages: 'Messages per batch request to the mail provider',
} as const;

/** Buckets of dunning_mail_batch_messages: a lone message at light load up to Resend's 100. */
export const mailBatchBuckets = [1, 2, 5, 10, 25, 50, 75, 99, 100];

export type MailRequestOutcome = 'sent' | 'error' | 'rejected';

export type EmailOutcome = 'sent' | 'skipped' | 'deferred' | 'failed' | 'error';
export type PromiseOutcome = 'made' | 'kept' | 'broken';

/** The promise outcome a timeline entry records, if it records one. */
export function promiseOutcomeOf(eventKind: string): PromiseOutcome | undefined {
  switch (eventKind) {
    case 'promise_made':
      return 'made';
    case 'promise_kept':
      return 'kept';
    case 'promise_broken':
      return 'broken';
    default:
      return undefined;
  }
}
