// The HTTP API: one Hono app over the service layer the CLI uses. Every /v1 route authenticates
// its key, spends its rate budget, checks the body's type and size, admits its roles, keeps its
// Idempotency-Key, validates with zod and calls one service verb. Refusals are problem+json.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { consoleRoutes } from '../console/routes';
import type { DunningContext } from '../context';
import { DunningError } from '../errors';
import { authenticate, rateLimit, type ApiEnv } from './auth';
import { createHttpMetrics, type RequestLine } from './metrics';
import { planEventWebhooks } from './webhooks-doc';
import { problem, type ProblemCode } from './problems';
import { opsRoutes } from './routes/ops';
import { payLinkRoutes } from './routes/pay-links';
import { planRoutes } from './routes/plans';
import { repRoutes } from './routes/reps';
import { webhookRoutes } from './routes/webhooks';
import { HealthSchema } from './schemas';
import { validationProblem } from './validation';

export interface ApiOptions {
  ctx: DunningContext;
  /** Per key and process; see rateLimit. */
  rateLimit?: { perSecond: number; burst: number };
  /** Where server faults are reported (a 500's cause never reaches the caller). */
  logError?: (message: string, err: unknown) => void;
  /** The access log: one line per request, as it is answered (none when absent). */
  logRequest?: (line: RequestLine) => void;
}

/** Largest JSON body: a composite create with its 1,000 invoices fits well inside. */
export const JSON_BODY_LIMIT = 1024 * 1024;
/** Largest CSV import body; bigger files go through `dunning import`. */
export const CSV_BODY_LIMIT = 64 * 1024 * 1024;

export const openApiInfo = {
  openapi: '3.1.0',
  info: {
    title: 'Dunning engine API',
    version: '1.0.0',
    description:
      'Collections plans over HTTP: what billing systems, rep tools and ops do with `dunning` on the command line. ' +
      'Authenticate with `Authorization: Bearer <key>` (`dunning apikey create`). Money is integer minor units plus the plan currency; ' +
      'dates are ISO 8601. Every POST honours `Idempotency-Key` for 24 hours. Refusals are application/problem+json with `code` and `detail`.',
  },
};

const grpcUnavailable = 14;

/** Hono's own refusals that get past the door's checks, by status (others are faults). */
const httpExceptionCodes: Partial<Record<number, ProblemCode>> = { 413: 'body_too_large', 415: 'unsupported_media_type', 422: 'invalid' };

/** Bodies are JSON except the CSV import's; a body of another type is refused before it is read. */
function bodyRules(): MiddlewareHandler<ApiEnv> {
  const limit = (maxSize: number) =>
    bodyLimit({ maxSize, onError: () => problem('body_too_large', `The request body is larger than ${maxSize / 1024 / 1024} MB.`) });
  const json = limit(JSON_BODY_LIMIT);
  const csv = limit(CSV_BODY_LIMIT);
  return async (c, next) => {
    if (c.req.method !== 'POST' && c.req.method !== 'PUT') return next();
    // A POST with no body at all (resume, initiate under the default policy) reads as {}.
    const length = c.req.header('content-length');
    if (length === '0' || (length === undefined && !c.req.header('transfer-encoding'))) return next();
    const [essence, ...params] = (c.req.header('content-type') ?? '').split(';');
    const type = essence!.trim().toLowerCase();
    const wants = c.req.path === '/v1/imports' ? 'text/csv' : 'application/json';
    if (type !== wants) return problem('unsupported_media_type', `Send the request body as ${wants}${type ? `, not ${type}` : ''}.`);
    // Parameters as the route's own media type check reads them ("; charset=utf-8"), so a stray ";" is refused here.
    if (params.some((p) => !/^\s*[a-zA-Z0-9-]+=[^;]+$/.test(p))) return problem('unsupported_media_type', `Send the request body as ${wants}.`);
    return (wants === 'text/csv' ? csv : json)(c, next);
  };
}

export function createApi(opts: ApiOptions): OpenAPIHono<ApiEnv> {
  const { ctx } = opts;
  const logError = opts.logError ?? ((message, err) => console.error(message, err));
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      // The validator hands the hook what was sent (untyped): a field sent with a wrong type is not "required".
      const { detail, errors } = validationProblem(result.error, result.target, (result as { data?: unknown }).data);
      return problem('invalid', detail, { errors });
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An API key from `dunning apikey create`' });

  // First, so every request is counted, timed and logged, refusals included.
  const metrics = createHttpMetrics({ onRequest: opts.logRequest });
  app.use('*', metrics.middleware);
  app.use('*', async (c, next) => {
    c.set('ctx', ctx);
    await next();
  });
  const limits = opts.rateLimit ?? { perSecond: 100, burst: 200 };
  // Idempotency comes per route, after its role check: a refused role claims no key.
  app.use('/v1/*', authenticate(), rateLimit(limits), bodyRules());

  app.onError((err, c) => {
    if (err instanceof DunningError) return problem(err.code, err.message);
    if (err instanceof HTTPException && err.status === 400) return problem('malformed_json', 'The request body is not valid JSON.');
    if (err instanceof HTTPException) {
      const code = httpExceptionCodes[err.status];
      if (code) return problem(code, `The request was refused: ${err.message.replace(/\.$/, '').toLowerCase()}.`);
    }
    if (err instanceof ServiceError && isGrpcServiceError(err.cause) && err.cause.code === grpcUnavailable) {
      return problem('unavailable', 'Temporal cannot be reached right now; retry in a moment.', { headers: { 'retry-after': '5' } });
    }
    logError(`${c.req.method} ${c.req.path} failed`, err);
    return problem('internal', 'Something went wrong on our side; the request may be retried with the same Idempotency-Key.');
  });
  app.notFound((c) => problem('not_found', `There is no ${c.req.method} ${c.req.path}; see /docs.`));

  planRoutes(app);
  repRoutes(app);
  opsRoutes(app);
  payLinkRoutes(app);
  webhookRoutes(app);
  // The rep console's pages, on the same door (session cookie instead of a bearer key).
  consoleRoutes(app);

  app.openapi(
    {
      method: 'get',
      path: '/health',
      tags: ['ops'],
      summary: 'Whether this process reaches Temporal and PostgreSQL (503 when either is unreachable)',
      responses: {
        200: { description: 'Both reachable', content: { 'application/json': { schema: HealthSchema } } },
        503: { description: 'One is unreachable', content: { 'application/json': { schema: HealthSchema } } },
      },
    },
    async (c) => {
      const within = <T>(p: Promise<T>) =>
        Promise.race([p.then(() => 'ok' as const), new Promise<'unreachable'>((resolve) => setTimeout(() => resolve('unreachable'), 2000).unref())]).catch(
          () => 'unreachable' as const,
        );
      const [temporal, database] = await Promise.all([
        within(ctx.client.connection.workflowService.getSystemInfo({})),
        within(ctx.db.execute('select 1')),
      ]);
      const ok = temporal === 'ok' && database === 'ok';
      return c.json({ status: ok ? ('ok' as const) : ('unavailable' as const), temporal, database }, ok ? 200 : 503);
    },
  );

  app.get('/openapi.json', (c) => c.json(openApiDocument(app)));
  // For Prometheus (see the README's scrape config); like /health, no API key.
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  docsRoutes(app);
  return app;
}

export function openApiDocument(app: OpenAPIHono<ApiEnv>) {
  return { ...app.getOpenAPI31Document(openApiInfo), webhooks: planEventWebhooks() };
}

/** The reference page: Swagger UI from node_modules (no CDN), reading /openapi.json. */
function docsRoutes(app: OpenAPIHono<ApiEnv>) {
  const dist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const assets: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript' };
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dunning engine API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="api"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: true });</script>
</body></html>`;
  app.get('/docs', (c) => c.html(page));
  app.get('/docs/:asset', async (c) => {
    const asset = c.req.param('asset');
    const type = Object.hasOwn(assets, asset) ? assets[asset] : undefined;
    if (!type) return problem('not_found', `There is no GET ${c.req.path}; see /docs.`);
    return c.body(await readFile(path.join(dist, asset)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
}
