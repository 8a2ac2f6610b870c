// The HTTP server's Prometheus metrics (prom-client), served at GET /metrics: requests and their
// latency by route pattern and status, plus the Node process's own (CPU, memory, event loop);
// and the access log's line per request, from the same observation.
// A registry per app, so tests that build several apps in one process never collide.
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** What the access log says of one request: never its query string or body (search words, names). */
export interface RequestLine {
  method: string;
  /** The route pattern matched ("/v1/plans/:planId"), or "unmatched". */
  route: string;
  path: string;
  status: number;
  ms: number;
  /** The plan the request was about, when its route names one. */
  planId?: string;
  /** The API key's name (the console's session is its key's too). */
  caller?: string;
}

export interface HttpMetrics {
  registry: Registry;
  /** Counts and times every request; register before the routes. */
  middleware: MiddlewareHandler;
}

/**
 * The route a request was aimed at, as registered ("/v1/plans/:planId"), never the raw path: a
 * label per plan id would grow without bound. Middleware (`*`, `/v1/*`) matches every request,
 * so the last route with a method of its own is the one; none means no route matched.
 */
function routePattern(c: Parameters<MiddlewareHandler>[0]): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return routes.at(-1)?.path ?? 'unmatched';
}

export function createHttpMetrics(opts: { onRequest?: (line: RequestLine) => void } = {}): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'dunning_http_requests_total', help: 'HTTP requests by method, route pattern and status', labelNames, registers: [registry] });
  const latency = new Histogram({
    name: 'dunning_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status, until the response headers',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    async middleware(c, next) {
      const started = performance.now();
      try {
        await next();
      } finally {
        const labels = { method: c.req.method, route: routePattern(c), status: String(c.res.status) };
        const seconds = (performance.now() - started) / 1000;
        requests.inc(labels);
        latency.observe(labels, seconds);
        if (opts.onRequest) {
          const planId = c.req.param('planId') ?? c.req.param('id');
          const vars = c.var as { caller?: { name: string }; session?: { name: string } };
          const caller = vars.caller?.name ?? vars.session?.name;
          opts.onRequest({ ...labels, path: c.req.path, status: c.res.status, ms: Math.round(seconds * 10_000) / 10, ...(planId ? { planId } : {}), ...(caller ? { caller } : {}) });
        }
      }
    },
  };
}
