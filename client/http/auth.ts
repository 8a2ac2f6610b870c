// Who is calling, and whether their role may: every /v1 route takes `Authorization: Bearer <key>`,
// looks the key up on each request (a revoked key is refused at once), and spends one token of
// the key's rate budget.
import type { MiddlewareHandler } from 'hono';
import { authenticateApiKey } from '../../db/api-keys';
import type { ApiKeyRole } from '../../db/schema';
import type { DunningContext } from '../context';
import { problem } from './problems';

export interface ApiCaller {
  id: string;
  name: string;
  role: ApiKeyRole;
}

/** What every handler can read from the request context. */
export interface ApiEnv {
  Variables: { caller: ApiCaller; ctx: DunningContext };
}

export function authenticate(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) return problem('unauthenticated', 'Send an API key as "Authorization: Bearer <key>"; create one with `dunning apikey create`.');
    const caller = await authenticateApiKey(c.var.ctx.db, token);
    if (!caller) return problem('unauthenticated', 'The API key is unknown or revoked.');
    c.set('caller', caller);
    await next();
  };
}

/** The roles a route admits; any other role gets 403 before anything is read or written. */
export function allow(...roles: ApiKeyRole[]): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const { role } = c.var.caller;
    if (!roles.includes(role)) return problem('forbidden', `The ${role} role may not ${c.req.method} ${c.req.routePath.replace(/:(\w+)/g, '{$1}')}; it is for ${roles.join(' and ')} keys.`);
    await next();
  };
}

/**
 * A token bucket per API key: `perSecond` refill, `burst` capacity. Kept in this process's
 * memory: with N API processes behind a balancer a key may spend up to N times the rate.
 */
export function rateLimit(opts: { perSecond: number; burst: number; now?: () => number }): MiddlewareHandler<ApiEnv> {
  const now = opts.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (c, next) => {
    const id = c.var.caller.id;
    const t = now();
    const bucket = buckets.get(id) ?? { tokens: opts.burst, at: t };
    bucket.tokens = Math.min(opts.burst, bucket.tokens + ((t - bucket.at) / 1000) * opts.perSecond);
    bucket.at = t;
    buckets.set(id, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / opts.perSecond));
      return problem('rate_limited', `Too many requests for this API key; retry in ${retryAfter} s.`, { headers: { 'retry-after': String(retryAfter) } });
    }
    bucket.tokens -= 1;
    await next();
  };
}
