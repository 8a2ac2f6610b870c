// Delivering plan events to a webhook endpoint, in the order they were recorded, signed as
// Standard Webhooks sign them. At least once: an event is marked delivered only after its
// endpoint answered 2xx, and every attempt carries the event's own id as `webhook-id`, so a
// receiver drops what it has already seen. A failed attempt is logged and fails the activity;
// Temporal retries it with backoff (see workflows/webhook-delivery.ts), so the next attempt
// starts with the same event, and the endpoint's later events wait behind it (a plan's events
// arrive in the order they happened).
import { ApplicationFailure, Context, log, metricMeter } from '@temporalio/activity';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/connection';
import { planEvents, webhookDeliveries, webhookEndpoints } from '../db/schema';
import { postWebhook, webhookSigner, type WebhookSigner } from '../client/webhook-post';
import { checkWebhookUrl } from '../client/webhook-url';
import { metricHelp, metricNames } from '../workflows/domain/metrics';
import type { ActivityDeps } from './deps';

/** Events read per round; delivered one at a time, in order. */
const batchSize = 50;

export interface DeliverWebhookEventsInput {
  endpointId: string;
  /** With nothing owed, how long to wait for the next event before returning (the workflow calls again). */
  idleWaitMs: number;
}

export interface DeliverWebhookEventsResult {
  /** `gone` (deleted) and `disabled` end the endpoint's workflow. */
  endpoint: 'enabled' | 'disabled' | 'gone';
  delivered: number;
}

type Endpoint = typeof webhookEndpoints.$inferSelect;

export function createWebhookDeliveryActivities({ db, clock, config }: Pick<ActivityDeps, 'db' | 'clock' | 'config'>) {
  /**
   * The URL's rules again, before each round: its host name may resolve to a private address
   * now (DNS rebinding) though it did not when the endpoint was added. A refusal fails the round
   * like a failed attempt, retried and in the end disabling the endpoint.
   */
  async function stillAllowed(endpoint: Endpoint): Promise<void> {
    try {
      await checkWebhookUrl(endpoint.url, { allowPrivateNetworks: config.webhooks.allowPrivateNetworks });
    } catch (err) {
      log.warn('Webhook URL refused at delivery', { endpointId: endpoint.id, reason: (err as Error).message });
      throw ApplicationFailure.retryable((err as Error).message, 'WebhookUrlRefused');
    }
  }

  /** One event to its endpoint: the attempt logged, the delivery marked on success; throws on failure. */
  async function deliver(endpoint: Endpoint, sign: WebhookSigner, event: { position: number; id: string; type: string; planId: string; body: unknown }) {
    const body = JSON.stringify(event.body);
    const attempt = await postWebhook(endpoint.url, sign, event.id, clock.now(), body, Context.current().cancellationSignal);
    const delivered = attempt.error === null;
    // The attempt and the delivery's state in one statement: one round trip per event.
    await db.execute(sql`
      with attempt as (
        insert into webhook_attempts (endpoint_id, event_id, http_status, latency_ms, error)
        values (${endpoint.id}, ${event.id}, ${attempt.httpStatus}, ${attempt.latencyMs}, ${attempt.error})
      )
      update webhook_deliveries set attempts = attempts + 1,
        status = case when ${delivered}::boolean then 'delivered' else status end,
        delivered_at = case when ${delivered}::boolean then ${clock.now().toISOString()}::timestamptz end
      where endpoint_id = ${endpoint.id} and event_position = ${event.position}`);
    metricMeter.createCounter(metricNames.webhookAttempts, 'attempts', metricHelp.webhookAttempts).add(1, { outcome: delivered ? 'delivered' : 'failed' });
    const fields = { endpointId: endpoint.id, eventId: event.id, eventType: event.type, planId: event.planId, ...attempt };
    if (delivered) {
      log.info('Webhook event delivered', fields);
      return;
    }
    log.warn('Webhook attempt failed', fields);
    throw ApplicationFailure.retryable(`Webhook ${endpoint.id} did not take event ${event.id}: ${attempt.error}.`, 'WebhookAttemptFailed');
  }

  /** Waits for the next recorded event (the timeline trigger notifies `plan_events`), at most `ms`. */
  async function waitForEvents(endpointId: string, ms: number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    // Listening before looking: an event recorded in between still wakes us.
    const { unlisten } = await db.$client.listen('plan_events', () => wake());
    const activity = Context.current(); // taken here: a timer's callback is not the activity's own call
    const beat = setInterval(() => activity.heartbeat(), 5_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      if ((await pendingFor(db, endpointId, 1)).length > 0) return;
      await Promise.race([
        woken,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
        activity.cancelled.catch(() => undefined),
      ]);
    } finally {
      clearInterval(beat);
      clearTimeout(timer);
      await unlisten();
    }
  }

  return {
    /**
     * Delivers what the endpoint is owed, oldest first; with nothing owed, waits up to
     * `idleWaitMs` for the next event and returns, so the workflow's history grows by one
     * activity a minute when all is quiet.
     */
    async deliverWebhookEvents({ endpointId, idleWaitMs }: DeliverWebhookEventsInput): Promise<DeliverWebhookEventsResult> {
      let delivered = 0;
      for (;;) {
        const [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpointId));
        if (!endpoint) return { endpoint: 'gone', delivered };
        if (endpoint.status !== 'enabled') return { endpoint: 'disabled', delivered };
        const owed = await pendingFor(db, endpointId, batchSize);
        if (owed.length === 0) break;
        await stillAllowed(endpoint);
        const sign = webhookSigner(endpoint, config.webhooks.secretKey, clock.now());
        for (const event of owed) {
          await deliver(endpoint, sign, event);
          delivered++;
          Context.current().heartbeat(delivered);
        }
      }
      if (delivered === 0) await waitForEvents(endpointId, idleWaitMs);
      return { endpoint: 'enabled', delivered };
    },

    /**
     * After a day of failed attempts: the endpoint stops taking events, and ops are told (its
     * timeline, written by the endpoint's trigger, an error log line and a metric).
     */
    async disableWebhookEndpoint({ endpointId, reason }: { endpointId: string; reason: string }): Promise<void> {
      await db
        .update(webhookEndpoints)
        .set({ status: 'disabled', disabledReason: `Disabled by the engine: ${reason}`, updatedAt: clock.now() })
        .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.status, 'enabled')));
      metricMeter.createCounter(metricNames.webhookEndpointsDisabled, 'endpoints', metricHelp.webhookEndpointsDisabled).add(1);
      log.error('Webhook endpoint disabled', { endpointId, reason });
    },
  };
}

/** The endpoint's pending events, oldest first. */
function pendingFor(db: Database, endpointId: string, limit: number) {
  return db
    .select({ position: planEvents.position, id: planEvents.id, type: planEvents.type, planId: planEvents.planId, body: planEvents.body })
    .from(webhookDeliveries)
    .innerJoin(planEvents, eq(planEvents.position, webhookDeliveries.eventPosition))
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'pending')))
    .orderBy(asc(webhookDeliveries.eventPosition))
    .limit(limit);
}
