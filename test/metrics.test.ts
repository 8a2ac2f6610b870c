// What an operator's Prometheus sees after one journey on the real stack: the worker's endpoint
// (the SDK's metrics and the engine's dunning_… counters) and the HTTP server's GET /metrics,
// scraped before and after, each count moved by exactly what the journey did.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../client/http/app';
import type { RequestLine } from '../client/http/metrics';
import { serveHttp, type HttpServer } from '../client/http/server';
import { setPolicy } from '../db/policies';
import { freePort } from '../worker/dev-server';
import { installRuntime } from '../worker/worker';
import { createPlan, dateOffset, eventually, secondsPolicy, waitForPlanState } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';

let harness: ApiHarness;
let http: HttpServer;
let workerMetricsUrl: string;

beforeAll(async () => {
  // The runtime as `dunning worker` installs it, on a free port (test files run side by side).
  const port = await freePort();
  workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  installRuntime({ engineLevel: 'WARN', metrics: { host: '127.0.0.1', port } });
  harness = await startApiHarness('metrics');
  http = await serveHttp(harness.api, { host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await http?.close();
  await harness?.close();
});

/** Every sample of a Prometheus text exposition: name, labels, value. */
async function scrape(url: string): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)!;
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** The sum of a metric's samples whose labels include `match` (0 when there is none yet). */
async function count(url: string, name: string, match: Record<string, string> = {}): Promise<number> {
  const samples = await scrape(url);
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function post(path: string, as: 'billing' | 'rep', body: unknown): Promise<Response> {
  return fetch(`${http.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${harness.keys[as]}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('the metrics endpoints after a journey', () => {
  it('count the email, the step, the promise, the payment and the HTTP calls exactly once each', async () => {
    const policy = secondsPolicy(`metrics-${randomUUID().slice(0, 6)}`, { first_reminder: 0, second_reminder: 3600 }, { promiseHorizon: 'P60D' });
    await setPolicy(harness.ctx.db, policy);
    const { planId } = await createPlan(harness.ctx.db, { invoices: [{ amountMinor: 40_000, dueOn: dateOffset(-5) }] });

    const worker = workerMetricsUrl;
    const sentBefore = await count(worker, 'dunning_emails_total', { template: 'first-reminder', outcome: 'sent' });
    const stepsBefore = await count(worker, 'dunning_steps_total', { step: 'first_reminder' });
    const madeBefore = await count(worker, 'dunning_promises_total', { outcome: 'made' });
    const keptBefore = await count(worker, 'dunning_promises_total', { outcome: 'kept' });
    const paymentsBefore = await count(worker, 'dunning_payments_total');
    const allSentBefore = await count(worker, 'dunning_emails_total', { outcome: 'sent' });
    const requestsBefore = await count(worker, 'dunning_mail_provider_requests_total', { provider: 'outbox', outcome: 'sent' });
    const batchedBefore = await count(worker, 'dunning_mail_batch_messages_sum', { provider: 'outbox' });
    const initiateRoute = { route: '/v1/plans/:planId/initiate', method: 'POST', status: '200' };
    const initiatesBefore = await count(`${http.url}/metrics`, 'dunning_http_requests_total', initiateRoute);

    expect((await post(`/v1/plans/${planId}/initiate`, 'billing', { policy: policy.name })).status).toBe(200);
    await waitForPlanState(harness.stack.client, planId, (s) => s.steps[0]?.status === 'completed', 'the first reminder sent');
    const promised = await post(`/v1/plans/${planId}/promises`, 'rep', { amountMinor: 40_000, dueAt: new Date(Date.now() + 7 * 86_400_000).toISOString() });
    expect(promised.status).toBe(201);
    expect((await post(`/v1/plans/${planId}/payments`, 'billing', { paymentId: `P-${planId}`, amountMinor: 40_000 })).status).toBe(202);
    await waitForPlanState(harness.stack.client, planId, (s) => s.status === 'resolved', 'the plan resolved by the payment');

    // The worker's endpoint: the journey's counts (the SDK's meter exports them within a moment).
    await eventually(async () => ((await count(worker, 'dunning_payments_total')) > paymentsBefore ? true : undefined), 'the payment counted');
    expect(await count(worker, 'dunning_emails_total', { template: 'first-reminder', outcome: 'sent' })).toBe(sentBefore + 1);
    expect(await count(worker, 'dunning_steps_total', { step: 'first_reminder' })).toBe(stepsBefore + 1);
    expect(await count(worker, 'dunning_promises_total', { outcome: 'made' })).toBe(madeBefore + 1);
    expect(await count(worker, 'dunning_promises_total', { outcome: 'kept' })).toBe(keptBefore + 1);
    expect(await count(worker, 'dunning_payments_total')).toBe(paymentsBefore + 1);
    // The outbox takes batches: every email sent rode in one provider request, each request in a slot.
    const emailsSent = (await count(worker, 'dunning_emails_total', { outcome: 'sent' })) - allSentBefore;
    const requestsMade = (await count(worker, 'dunning_mail_provider_requests_total', { provider: 'outbox', outcome: 'sent' })) - requestsBefore;
    expect(emailsSent).toBeGreaterThanOrEqual(1);
    expect(requestsMade).toBeGreaterThanOrEqual(1);
    expect(requestsMade).toBeLessThanOrEqual(emailsSent);
    expect((await count(worker, 'dunning_mail_batch_messages_sum', { provider: 'outbox' })) - batchedBefore).toBe(emailsSent);
    // ... next to the SDK's own worker metrics, which the dashboard's queue panels read.
    const sdk = await scrape(worker);
    expect(sdk.some((s) => s.name.startsWith('temporal_workflow_task_schedule_to_start_latency'))).toBe(true);
    expect(sdk.some((s) => s.name.startsWith('temporal_activity_schedule_to_start_latency'))).toBe(true);

    // The HTTP server's endpoint: each call under its route pattern, never the plan's own path.
    const api = await scrape(`${http.url}/metrics`);
    const requests = api.filter((s) => s.name === 'dunning_http_requests_total');
    expect(requests.filter((s) => s.labels.route === initiateRoute.route && s.labels.status === '200').reduce((n, s) => n + s.value, 0)).toBe(initiatesBefore + 1);
    expect(requests.find((s) => s.labels.route === '/v1/plans/:planId/promises' && s.labels.status === '201')?.value).toBe(1);
    expect(requests.find((s) => s.labels.route === '/v1/plans/:planId/payments' && s.labels.status === '202')?.value).toBe(1);
    expect(requests.filter((s) => s.labels.route?.includes(planId))).toEqual([]);
    expect(api.find((s) => s.name === 'dunning_http_request_duration_seconds_count' && s.labels.route === '/v1/plans/:planId/payments')?.value).toBe(1);
  });

  it('serves every metric the sample Grafana dashboard queries', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../worker/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ targets?: Array<{ expr?: string }> }> };
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => [...(t.expr ?? '').matchAll(/\b((?:temporal|dunning)_[a-z_]+)/g)].map((m) => m[1]!)));
    // Exported names, with a histogram's series under its own name; the scrape follows the journey test above.
    const exported = new Set([...(await scrape(workerMetricsUrl)), ...(await scrape(`${http.url}/metrics`))].map((s) => s.name));
    // The SDK exports a counter from its first increment: these count failures, and the journey had none.
    const onFirstFailure = new Set(['temporal_activity_execution_failed', 'temporal_workflow_task_execution_failed']);
    expect(queried.size).toBeGreaterThan(8);
    expect([...queried].filter((name) => !onFirstFailure.has(name) && !exported.has(name))).toEqual([]);
  });

  it('labels a path no route matches as unmatched, with its status', async () => {
    expect((await fetch(`${http.url}/v1/nowhere/${randomUUID()}`)).status).toBe(401);
    expect((await fetch(`${http.url}/nowhere/${randomUUID()}`)).status).toBe(404);
    const requests = (await scrape(`${http.url}/metrics`)).filter((s) => s.name === 'dunning_http_requests_total' && s.labels.route === 'unmatched');
    expect(requests.map((s) => s.labels.status).sort()).toEqual(['401', '404']);
  });
});

describe('the access log', () => {
  it('writes one line per request with its route, status, time, plan and caller, and never the query string', async () => {
    const lines: RequestLine[] = [];
    const app = createApi({ ctx: harness.ctx, logRequest: (line) => lines.push(line) });
    const { planId } = await createPlan(harness.ctx.db, { invoices: [{ amountMinor: 1_000, dueOn: dateOffset(5) }] });
    const read = await app.request(`/v1/plans/${planId}?secret=Acme%20Anvils`, { headers: { authorization: `Bearer ${harness.keys.billing}` } });
    expect(read.status).toBe(422); // an unknown query parameter is refused, and the refusal logged too
    const ok = await app.request(`/v1/plans/${planId}`, { headers: { authorization: `Bearer ${harness.keys.billing}` } });
    expect(ok.status).toBe(200);
    await app.request('/nowhere');
    expect(lines.map(({ ms: _ms, ...rest }) => rest)).toEqual([
      { method: 'GET', route: '/v1/plans/:planId', path: `/v1/plans/${planId}`, status: 422, planId, caller: 'test billing' },
      { method: 'GET', route: '/v1/plans/:planId', path: `/v1/plans/${planId}`, status: 200, planId, caller: 'test billing' },
      { method: 'GET', route: 'unmatched', path: '/nowhere', status: 404 },
    ]);
    expect(lines.every((l) => typeof l.ms === 'number' && l.ms >= 0)).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('Acme');
  });
});
