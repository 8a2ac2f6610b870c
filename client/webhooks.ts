// Webhook endpoints as ops manage them (`dunning webhook …` and /v1/webhooks): where plan events
// go and which ones. The signing secret is shown once, at creation and at each rotation; the
// database keeps it only sealed (db/webhook-secrets.ts), and no read gives it back.
import { randomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, gte, inArray, sql } from 'drizzle-orm';
import { generateWebhookSecret, sealWebhookSecret } from '../db/webhook-secrets';
import { planEventTypes, type PlanEventType } from '../db/plan-events';
import {
  planEvents,
  webhookAttempts,
  webhookDeliveries,
  webhookEndpointEvents,
  webhookEndpoints,
  type webhookEndpointEventKinds,
  type webhookEndpointStatuses,
} from '../db/schema';
import type { DunningContext } from './context';
import { DunningError } from './errors';
import { postWebhook, webhookSigner, type WebhookAttempt } from './webhook-post';
import { checkWebhookUrl } from './webhook-url';

type WebhookContext = Pick<DunningContext, 'db' | 'config'>;

export interface WebhookEndpointView {
  id: string;
  url: string;
  events: PlanEventType[];
  status: (typeof webhookEndpointStatuses)[number];
  disabledReason: string | null;
  /** Until when the secret before the last rotation still signs too; null when none does. */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint with its signing secret: only what add and rotate return, once. */
export type WebhookEndpointWithSecret = WebhookEndpointView & { secret: string };

/** How long the secret before a rotation keeps signing, so receivers can switch over. */
const PREVIOUS_SECRET_HOURS = 24;

function viewOf(row: typeof webhookEndpoints.$inferSelect): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    events: row.events as PlanEventType[],
    status: row.status,
    disabledReason: row.disabledReason,
    // A rotation more than a day ago leaves the column set; the secret no longer signs.
    previousSecretExpiresAt: row.previousSecretExpiresAt && row.previousSecretExpiresAt > new Date() ? row.previousSecretExpiresAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * The event types an endpoint takes, from a comma list (the CLI's `--events`) or a list, in the
 * catalogue's order; `all` is every type there is now.
 */
export function parseEventTypes(events: string | string[]): PlanEventType[] {
  const names = (typeof events === 'string' ? events.split(',') : events).map((e) => e.trim()).filter((e) => e !== '');
  const known = `the types are ${planEventTypes.join(', ')}, or all`;
  if (names.length === 0) throw new DunningError(`Name the events the webhook takes; ${known}.`, 'invalid');
  if (names.includes('all')) return [...planEventTypes];
  const unknown = names.find((n) => !(planEventTypes as readonly string[]).includes(n));
  if (unknown !== undefined) throw new DunningError(`Unknown event type "${unknown}"; ${known}.`, 'invalid');
  return planEventTypes.filter((t) => names.includes(t));
}

function unknownWebhook(id: string): DunningError {
  return new DunningError(`Unknown webhook "${id}"; see \`dunning webhook list\`.`, 'unknown_webhook');
}

export async function addWebhook({ db, config }: WebhookContext, input: { url: string; events: string | string[] }): Promise<WebhookEndpointWithSecret> {
  const events = parseEventTypes(input.events);
  const url = await checkWebhookUrl(input.url.trim(), { allowPrivateNetworks: config.webhooks.allowPrivateNetworks });
  const secret = generateWebhookSecret();
  const [row] = await db
    .insert(webhookEndpoints)
    .values({ id: `wh_${randomBytes(8).toString('hex')}`, url, events, secretCiphertext: sealWebhookSecret(secret, config.webhooks.secretKey) })
    .returning();
  return { ...viewOf(row!), secret };
}

export async function listWebhooks({ db }: Pick<DunningContext, 'db'>): Promise<WebhookEndpointView[]> {
  const rows = await db.select().from(webhookEndpoints).orderBy(desc(webhookEndpoints.createdAt), webhookEndpoints.id);
  return rows.map(viewOf);
}

export interface WebhookEndpointDetail extends WebhookEndpointView {
  /** Events owed to it and not yet taken: sent in order once it is enabled. */
  waiting: number;
  /** What happened to it, oldest first: added, disabled (by whom or why), enabled, rotated. */
  timeline: Array<{ at: string; kind: (typeof webhookEndpointEventKinds)[number]; summary: string }>;
  /** Its latest delivery attempts, newest first. */
  attempts: Array<{ at: string; eventId: string; httpStatus: number | null; latencyMs: number; error: string | null }>;
}

/** How many of an endpoint's latest attempts `show` gives. */
const ATTEMPTS_SHOWN = 20;

/** One endpoint as ops look into it: its state, its timeline, what waits for it and how its latest attempts went. */
export async function showWebhook({ db }: Pick<DunningContext, 'db'>, input: { id: string }): Promise<WebhookEndpointDetail> {
  const [[row], timeline, attempts, [waiting]] = await Promise.all([
    db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, input.id)),
    db
      .select({ at: webhookEndpointEvents.at, kind: webhookEndpointEvents.kind, summary: webhookEndpointEvents.summary })
      .from(webhookEndpointEvents)
      .where(eq(webhookEndpointEvents.endpointId, input.id))
      .orderBy(asc(webhookEndpointEvents.id)),
    db
      .select({ at: webhookAttempts.at, eventId: webhookAttempts.eventId, httpStatus: webhookAttempts.httpStatus, latencyMs: webhookAttempts.latencyMs, error: webhookAttempts.error })
      .from(webhookAttempts)
      .where(eq(webhookAttempts.endpointId, input.id))
      .orderBy(desc(webhookAttempts.at), desc(webhookAttempts.id))
      .limit(ATTEMPTS_SHOWN),
    db
      .select({ n: count() })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.endpointId, input.id), eq(webhookDeliveries.status, 'pending'))),
  ]);
  if (!row) throw unknownWebhook(input.id);
  return {
    ...viewOf(row),
    waiting: waiting?.n ?? 0,
    timeline: timeline.map((t) => ({ ...t, at: t.at.toISOString() })),
    attempts: attempts.map((a) => ({ ...a, at: a.at.toISOString() })),
  };
}

/**
 * Stops new events being owed to the endpoint (the trigger that records an event owes it only
 * to enabled ones). Disabling a disabled endpoint changes nothing, its first reason kept.
 */
export async function disableWebhook({ db }: Pick<DunningContext, 'db'>, input: { id: string; by: string }): Promise<WebhookEndpointView> {
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      status: 'disabled',
      disabledReason: sql`case when ${webhookEndpoints.status} = 'disabled' then ${webhookEndpoints.disabledReason} else ${`Disabled by ${input.by}.`} end`,
      updatedAt: sql`case when ${webhookEndpoints.status} = 'disabled' then ${webhookEndpoints.updatedAt} else now() end`,
    })
    .where(eq(webhookEndpoints.id, input.id))
    .returning();
  if (!row) throw unknownWebhook(input.id);
  return viewOf(row);
}

/** Events recorded from now on are owed to it again; those recorded while it was disabled are not. */
export async function enableWebhook({ db }: Pick<DunningContext, 'db'>, input: { id: string }): Promise<WebhookEndpointView> {
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      status: 'enabled',
      disabledReason: null,
      updatedAt: sql`case when ${webhookEndpoints.status} = 'enabled' then ${webhookEndpoints.updatedAt} else now() end`,
    })
    .where(eq(webhookEndpoints.id, input.id))
    .returning();
  if (!row) throw unknownWebhook(input.id);
  return viewOf(row);
}

/**
 * A new secret, shown once; the one it replaces keeps signing beside it for a day so receivers
 * can switch without dropping an event. A second rotation within that day drops the oldest.
 */
export async function rotateWebhookSecret({ db, config }: WebhookContext, input: { id: string }): Promise<WebhookEndpointWithSecret> {
  const secret = generateWebhookSecret();
  // The right-hand sides read the row as it was: the current secret becomes the previous one.
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      previousSecretCiphertext: sql`${webhookEndpoints.secretCiphertext}`,
      previousSecretExpiresAt: sql`now() + make_interval(hours => ${PREVIOUS_SECRET_HOURS})`,
      secretCiphertext: sealWebhookSecret(secret, config.webhooks.secretKey),
      updatedAt: sql`now()`,
    })
    .where(eq(webhookEndpoints.id, input.id))
    .returning();
  if (!row) throw unknownWebhook(input.id);
  return { ...viewOf(row), secret };
}

/** An enabled endpoint, or the refusal its id and status call for. */
async function enabledEndpoint(db: DunningContext['db'], id: string) {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  if (!row) throw unknownWebhook(id);
  if (row.status !== 'enabled') throw new DunningError(`Webhook ${id} is disabled; enable it first (\`dunning webhook enable ${id}\`).`, 'webhook_disabled');
  return row;
}

/**
 * Sends events again: one (by its evt_ id), or every event recorded since a time that the
 * endpoint takes. Each is owed once more, with its own webhook-id, and goes out in its place in
 * the endpoint's order; the endpoint's delivery is woken at once. How many were owed again.
 */
export async function redeliverWebhookEvents({ db }: Pick<DunningContext, 'db'>, input: { id: string; eventId?: string; since?: string }): Promise<{ redelivered: number }> {
  if ((input.eventId === undefined) === (input.since === undefined)) {
    throw new DunningError('Name one event to send again (--event evt_…) or a time to send every event since (--since 2026-11-27T09:00:00Z), not both.', 'invalid');
  }
  const since = input.since === undefined ? undefined : new Date(input.since);
  if (since !== undefined && (Number.isNaN(since.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(input.since!))) {
    throw new DunningError(`"${input.since}" is not a date-time; write it as 2026-11-27T09:00:00Z.`, 'invalid');
  }
  const endpoint = await enabledEndpoint(db, input.id);
  return db.transaction(async (tx) => {
    const events = await tx
      .select({ position: planEvents.position, id: planEvents.id })
      .from(planEvents)
      .where(
        and(
          inArray(planEvents.type, endpoint.events as PlanEventType[]),
          input.eventId !== undefined ? eq(planEvents.id, input.eventId) : gte(planEvents.occurredAt, since!),
        ),
      );
    if (input.eventId !== undefined && events.length === 0) {
      throw new DunningError(`Unknown event "${input.eventId}" for webhook ${input.id}; it takes ${endpoint.events.join(', ')}.`, 'unknown_event');
    }
    if (events.length > 0) {
      await tx
        .insert(webhookDeliveries)
        .values(events.map((e) => ({ endpointId: input.id, eventPosition: e.position })))
        .onConflictDoUpdate({ target: [webhookDeliveries.endpointId, webhookDeliveries.eventPosition], set: { status: 'pending', deliveredAt: null } });
      await tx.execute(sql`select pg_notify('plan_events', '')`);
    }
    return { redelivered: events.length };
  });
}

/**
 * One signed test event (`webhook.test`), sent now from this process and not retried: whether
 * the endpoint answers, and how. The attempt is kept with the others.
 */
export async function testWebhook({ db, config }: WebhookContext, input: { id: string }): Promise<WebhookAttempt & { eventId: string }> {
  const endpoint = await enabledEndpoint(db, input.id);
  await checkWebhookUrl(endpoint.url, { allowPrivateNetworks: config.webhooks.allowPrivateNetworks });
  const at = new Date();
  const eventId = `evt_test_${randomBytes(12).toString('hex')}`;
  const body = JSON.stringify({ type: 'webhook.test', timestamp: at.toISOString(), data: { id: eventId, endpointId: endpoint.id } });
  const attempt = await postWebhook(endpoint.url, webhookSigner(endpoint, config.webhooks.secretKey, at), eventId, at, body);
  await db.insert(webhookAttempts).values({ endpointId: endpoint.id, eventId, ...attempt });
  return { eventId, ...attempt };
}
