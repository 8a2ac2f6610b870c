// Delivering plan events to a webhook endpoint, in the order they were recorded, signed as
// Standard Webhooks sign them. At least once: an event is marked delivered only after its
// endpoint answered 2xx, and every attempt carries the event's own id as `webhook-id`, so a
// receiver drops what it has already seen. A failed attempt is logged and fails the activity;
// Temporal retries it with backoff (see workflows/webhook-delivery.ts), so the next attempt
// starts with the same event, and the endpoint's later events wait behind it (a plan's events
// arrive in the order they happened).
import { ApplicationFailure, Context, log, metricMeter } from '@temporalio/activity';
import { and, asc, eq, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../db/connection';
import { planEvents, webhookDeliveries, webhookEndpoints } from '../db/schema';
import { openWebhookSecret } from '../db/webhook-secrets';
import { checkWebhookUrl } from '../client/webhook-url';
import { metricHelp, metricNames } from '../workflows/domain/metrics';
import type { ActivityDeps } from './deps';

/** How long one attempt may take before it counts as failed. */
export const webhookAttemptTimeoutMs = 10_000;
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

/** What an attempt came to, as logged in webhook_attempts. */
interface Attempt {
  httpStatus: number | null;
  latencyMs: number;
  error: string | null;
}

type Endpoint = typeof webhookEndpoints.$inferSelect;

export function createWebhookDeliveryActivities({ db, clock, config }: Pick<ActivityDeps, 'db' | 'clock' | 'config'>) {
  /**
   * What signs an endpoint's requests: the current secret, and the previous one during the day
   * after a rotation. Opened once per round of deliveries, not once per event.
   */
  function signersOf(endpoint: Endpoint): (id: string, at: Date, body: string) => string {
    const sealed = [endpoint.secretCiphertext];
    const now = clock.now();
    if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
      sealed.push(endpoint.previousSecretCiphertext);
    }
    const hooks = sealed.map((s) => new Webhook(openWebhookSecret(s, config.webhooks.secretKey)));
    return (id, at, body) => hooks.map((hook) => hook.sign(id, at, body)).join(' ');
  }

  async function post(endpoint: Endpoint, sign: ReturnType<typeof signersOf>, id: string, body: string): Promise<Attempt> {
    const at = clock.now();
    const started = performance.now();
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'dunning-engine-webhooks/1',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': sign(id, at, body),
        },
        body,
        redirect: 'manual', // a redirect could lead anywhere, past the URL's checks
        signal: AbortSignal.any([AbortSignal.timeout(webhookAttemptTimeoutMs), Context.current().cancellationSignal]),
      });
      await response.body?.cancel();
      const latencyMs = Math.round(performance.now() - started);
      const ok = response.status >= 200 && response.status < 300;
      return { httpStatus: response.status, latencyMs, error: ok ? null : `HTTP ${response.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const error = e.name === 'TimeoutError' ? `no answer within ${webhookAttemptTimeoutMs / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { httpStatus: null, latencyMs: Math.round(performance.now() - started), error };
    }
  }

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
  async function deliver(endpoint: Endpoint, sign: ReturnType<typeof signersOf>, event: { position: number; id: string; type: string; planId: string; body: unknown }) {
    const body = JSON.stringify(event.body);
    const attempt = await post(endpoint, sign, event.id, body);
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
    const beat = setInterval(() => Context.current().heartbeat(), 5_000);
    let timer: NodeJS.Timeout | undefined;
    try {
      if ((await pendingFor(db, endpointId, 1)).length > 0) return;
      await Promise.race([
        woken,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
        Context.current().cancelled.catch(() => undefined),
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
        const sign = signersOf(endpoint);
        for (const event of owed) {
          await deliver(endpoint, sign, event);
          delivered++;
          Context.current().heartbeat(delivered);
        }
      }
      if (delivered === 0) await waitForEvents(endpointId, idleWaitMs);
      return { endpoint: 'enabled', delivered };
    },

    /** After a day of failed attempts: the endpoint stops taking events, and ops are told. */
    async disableWebhookEndpoint({ endpointId, reason }: { endpointId: string; reason: string }): Promise<void> {
      await db
        .update(webhookEndpoints)
        .set({ status: 'disabled', disabledReason: reason, updatedAt: clock.now() })
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
