// The plan events as the OpenAPI document's `webhooks` section: what an endpoint receives, one
// entry per event type, from the catalogue (db/plan-events.ts) so the two cannot drift apart.
import { planEventTypes, planEventVersion, type PlanEventType } from '../../db/plan-events';

const when: Record<PlanEventType, string> = {
  'plan.initiated': 'The journey began.',
  'plan.step_completed': 'A policy step ran: `step` names it, `outcome` says what it did.',
  'plan.escalated': 'A rep escalated the plan.',
  'plan.promise_made': 'A promise to pay was recorded (`promiseId`, `amountMinor`).',
  'plan.promise_kept': 'A promise was kept (`promiseId`, `amountMinor`).',
  'plan.promise_broken': 'A promise was broken (`promiseId`, `amountMinor`).',
  'plan.paused': 'The plan was paused.',
  'plan.resumed': 'The plan was resumed, by a rep or at the end of its pause.',
  'plan.payment_applied': 'A payment was applied (`paymentId`, `amountMinor`).',
  'plan.resolved': 'The plan was paid in full.',
  'plan.cancelled': 'The plan was cancelled.',
  'plan.written_off': 'The plan was written off (by a rep, or by the policy\'s last step).',
  'plan.sent_to_agency': 'The policy\'s last step handed the plan to a collection agency: what was owed is in `owedMinor`; the hand-off record is kept.',
  'plan.service_cancelled': 'The policy\'s last step ended dunning asking for the service to be cancelled: the billing system acts on this event.',
};

const text = { type: 'string' } as const;
const minor = { type: 'integer', description: 'Minor units of the plan\'s currency.' } as const;

function bodySchema(type: PlanEventType) {
  return {
    type: 'object',
    required: ['type', 'timestamp', 'data'],
    properties: {
      type: { const: type },
      timestamp: { type: 'string', format: 'date-time', description: 'When the change happened.' },
      data: {
        type: 'object',
        required: ['id', 'version', 'planId', 'accountId', 'currency', 'owedMinor', 'status', 'summary'],
        properties: {
          id: { type: 'string', pattern: '^evt_', description: 'The event\'s id: also the webhook-id header, the same on every attempt.' },
          version: { const: planEventVersion },
          planId: text,
          accountId: text,
          currency: { type: 'string', pattern: '^[A-Z]{3}$' },
          owedMinor: { ...minor, description: 'What the plan still owed right after the change, in minor units.' },
          status: { ...text, description: 'The plan\'s status right after the change.' },
          summary: { ...text, description: 'The timeline\'s words for the change.' },
          ...(type === 'plan.step_completed' && { step: text, outcome: { enum: ['sent', 'skipped', 'task_created'] } }),
          ...(type === 'plan.payment_applied' && { paymentId: text, amountMinor: minor }),
          ...(type.startsWith('plan.promise_') && { promiseId: text, amountMinor: minor }),
        },
      },
    },
  };
}

const header = (name: string, description: string) => ({ name, in: 'header', required: true, schema: text, description });

/** `dunning webhook test`'s event: not a plan's, sent once to see that the endpoint answers. */
const testEvent = {
  post: {
    summary: 'webhook.test',
    description: 'Sent by `dunning webhook test` or POST /v1/webhooks/{id}/test, once and not retried, signed as every event is.',
    parameters: [
      header('webhook-id', 'The test event\'s id (evt_test_…).'),
      header('webhook-timestamp', 'Seconds since the epoch.'),
      header('webhook-signature', '`v1,<base64>`; two, space-separated, in the day after a secret rotation.'),
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['type', 'timestamp', 'data'],
            properties: {
              type: { const: 'webhook.test' },
              timestamp: { type: 'string', format: 'date-time' },
              data: { type: 'object', required: ['id', 'endpointId'], properties: { id: { type: 'string', pattern: '^evt_test_' }, endpointId: text } },
            },
          },
        },
      },
    },
    responses: { '2XX': { description: 'Taken.' } },
  },
};

/** The `webhooks` section: each event type as the POST an endpoint receives, and the test event. */
export function planEventWebhooks() {
  return Object.fromEntries([
    ...planEventTypes.map((type) => [
      type,
      {
        post: {
          summary: type,
          description: `${when[type]} Signed as Standard Webhooks sign (HMAC-SHA256 of id.timestamp.body with the endpoint's whsec_ secret); retried with the same webhook-id until a 2xx answer, for 24 hours.`,
          parameters: [
            header('webhook-id', 'The event\'s id (evt_…).'),
            header('webhook-timestamp', 'Seconds since the epoch, of this attempt.'),
            header('webhook-signature', '`v1,<base64>`; two, space-separated, in the day after a secret rotation.'),
          ],
          requestBody: { required: true, content: { 'application/json': { schema: bodySchema(type) } } },
          responses: { '2XX': { description: 'Taken; anything else (or no answer within 10 s) is retried.' } },
        },
      },
    ]),
    ['webhook.test', testEvent],
  ]);
}
