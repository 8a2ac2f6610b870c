// One workflow per webhook endpoint (`webhook:<endpointId>`), for as long as the endpoint is
// enabled: it hands the endpoint its events in order, one activity at a time. A failing endpoint
// is retried with backoff for a day by Temporal's retry policy (the same event first, so order
// holds); after that it is disabled and ops are told. Endpoints never wait on each other.
import type { Duration } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

type Activities = ReturnType<typeof createActivities>;

/** How long an endpoint is retried before it is disabled, and the backoff between attempts. */
export const webhookRetry = { window: '24 hours', initialInterval: '5 seconds', maximumInterval: '1 hour' } as const;

const { disableWebhookEndpoint } = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds' });

export interface WebhookDeliveryInput {
  endpointId: string;
  /** With nothing owed, how long each call waits for an event (default a minute). */
  idleWaitMs?: number;
  /** The retries (default webhookRetry; tests shorten them). */
  retry?: { window: Duration; initialInterval: Duration; maximumInterval: Duration };
}

/** Calls per run before the history starts afresh (continue-as-new): bounded, however long the endpoint lives. */
const callsPerRun = 500;

export const webhookWorkflowId = (endpointId: string) => `webhook:${endpointId}`;

export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<void> {
  const retry = input.retry ?? webhookRetry;
  const { deliverWebhookEvents } = proxyActivities<Activities>({
    // Each call delivers what is owed, or waits up to idleWaitMs for the next event.
    startToCloseTimeout: '5 minutes',
    // A worker that dies mid-call is noticed this soon (an attempt takes at most 10 s).
    heartbeatTimeout: '20 seconds',
    scheduleToCloseTimeout: retry.window,
    retry: { initialInterval: retry.initialInterval, backoffCoefficient: 2, maximumInterval: retry.maximumInterval },
  });
  for (let call = 0; call < callsPerRun; call++) {
    try {
      const { endpoint } = await deliverWebhookEvents({ endpointId: input.endpointId, idleWaitMs: input.idleWaitMs ?? 60_000 });
      if (endpoint !== 'enabled') return;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const cause = err.cause instanceof ApplicationFailure ? err.cause.message : (err.cause?.message ?? err.message);
      await disableWebhookEndpoint({ endpointId: input.endpointId, reason: `no event delivered for ${String(retry.window)}; last: ${cause}` });
      return;
    }
  }
  await continueAsNew<typeof webhookDeliveryWorkflow>(input);
}
