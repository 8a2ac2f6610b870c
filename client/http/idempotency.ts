// Idempotency-Key on every POST, as Stripe does it: the first response to a key is kept for 24 h
// (per API key) and a retry with the same body gets it again with `Idempotent-Replayed: true`,
// changing nothing. The same key with another body or route is refused; while the first request
// is still running a duplicate gets 409, so two identical requests never make two effects.
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import type { Database } from '../../db/connection';
import { idempotentRequests } from '../../db/schema';
import type { ApiEnv } from './auth';
import { problem } from './problems';

const KEY = /^[\x21-\x7e]{1,255}$/;
/** A request in flight this long is taken for dead (its process stopped) and may be retried. */
const ABANDONED_AFTER = '5 minutes';

export const sha256 = (bytes: ArrayBuffer | string) => createHash('sha256').update(typeof bytes === 'string' ? bytes : Buffer.from(bytes)).digest('hex');

/**
 * Claims the key for this request, or finds who has it. In one statement: a new key is
 * inserted; one older than 24 h (or abandoned mid-flight) is taken over; any other is returned.
 */
async function claim(db: Database, row: { apiKeyId: string; key: string; route: string; bodyHash: string }) {
  const [claimed] = await db
    .insert(idempotentRequests)
    .values(row)
    .onConflictDoUpdate({
      target: [idempotentRequests.apiKeyId, idempotentRequests.key],
      set: { route: row.route, bodyHash: row.bodyHash, responseStatus: null, responseBody: null, responseType: null, createdAt: sql`now()` },
      setWhere: sql`${idempotentRequests.createdAt} < now() - interval '24 hours'
        or (${idempotentRequests.responseStatus} is null and ${idempotentRequests.createdAt} < now() - interval '${sql.raw(ABANDONED_AFTER)}')`,
    })
    .returning({ key: idempotentRequests.key });
  if (claimed) return undefined;
  const [existing] = await db
    .select()
    .from(idempotentRequests)
    .where(and(eq(idempotentRequests.apiKeyId, row.apiKeyId), eq(idempotentRequests.key, row.key)));
  return existing;
}

/**
 * `bodyHash` reads the request's body for its hash (the JSON routes buffer it; Hono keeps it
 * for the handler). The CSV import hashes as it streams and so is not covered here.
 */
export const idempotent: MiddlewareHandler<ApiEnv> = idempotentKeeping((body) => body);

/**
 * Idempotency that keeps the answer as `keep` rewrites it: a route whose answer holds a secret
 * shown once (a webhook's signing secret) replays it without, so the secret is never stored.
 */
export function idempotentKeeping(keep: (body: string) => string): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = c.req.header('idempotency-key');
    if (c.req.method !== 'POST' || key === undefined) return next();
    if (!KEY.test(key)) return problem('invalid', 'The Idempotency-Key header must be 1 to 255 visible ASCII characters.');
    const { db } = c.var.ctx;
    const apiKeyId = c.var.caller.id;
    const route = `${c.req.method} ${c.req.path}`;
    const bodyHash = sha256(await c.req.arrayBuffer());
    const existing = await claim(db, { apiKeyId, key, route, bodyHash });
    if (existing) {
      if (existing.route !== route || existing.bodyHash !== bodyHash) {
        return problem('idempotency_key_reused', `Idempotency-Key "${key}" was used for another request; use a new key for a new request.`);
      }
      if (existing.responseStatus === null) {
        return problem('idempotency_in_flight', `A request with Idempotency-Key "${key}" is still being processed; retry in a moment.`, { headers: { 'retry-after': '1' } });
      }
      return new Response(existing.responseBody, {
        status: existing.responseStatus,
        headers: { 'content-type': existing.responseType ?? 'application/json', 'idempotent-replayed': 'true' },
      });
    }
    const release = () => db.delete(idempotentRequests).where(and(eq(idempotentRequests.apiKeyId, apiKeyId), eq(idempotentRequests.key, key)));
    try {
      await next();
    } catch (err) {
      await release();
      throw err;
    }
    // A server fault is not an answer to keep: the client may retry with the same key.
    if (c.res.status >= 500) {
      await release();
      return;
    }
    const body = await c.res.clone().text();
    await db
      .update(idempotentRequests)
      .set({ responseStatus: c.res.status, responseBody: keep(body), responseType: c.res.headers.get('content-type') })
      .where(and(eq(idempotentRequests.apiKeyId, apiKeyId), eq(idempotentRequests.key, key)));
  };
}
