// The HTTP API on the real dev server and PostgreSQL, through Hono's app.request (the same app
// `dunning api` serves): a billing system's whole conversation, paging, idempotency, keys.
// Every answer is checked against the committed OpenAPI document (test/http-support.ts).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { createApiKey, revokeApiKey } from '../client/api-keys';
import { setPolicy } from '../client/policies';
import { createApi, openApiDocument } from '../client/http/app';
import { openApiPath } from '../client/http/openapi';
import { collectionPlans } from '../db/schema';
import { eventually, secondsPolicy } from './fixtures';
import { compositePlan, startApiHarness, type ApiHarness } from './http-support';
import type { TestStack } from './support';

let h: ApiHarness;
let stack: TestStack;
let api: ApiHarness['api'];
let call: ApiHarness['call'];

beforeAll(async () => {
  h = await startApiHarness('http');
  ({ stack, api, call } = h);
});
afterAll(async () => {
  await h?.close();
});

const account = compositePlan;

describe('the HTTP API', () => {
  it('answers /health with both parts reachable', async () => {
    const res = await api.request('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', temporal: 'ok', database: 'ok' });
  });

  it('serves the committed OpenAPI document, unchanged', async () => {
    const served = await (await api.request('/openapi.json')).json();
    expect(served).toEqual(openApiDocument(api));
    expect(JSON.parse(readFileSync(openApiPath, 'utf8')), 'client/http/openapi.json is stale: run `npm run openapi`').toEqual(served);
    const docs = await api.request('/docs');
    expect(await docs.text()).toContain('/docs/swagger-ui-bundle.js');
    expect((await api.request('/docs/swagger-ui-bundle.js')).status).toBe(200);
  });

  it('runs a billing system\'s conversation: create and initiate, partial payment, a rep\'s promise, payment in full, resolved', async () => {
    const acct = `E2E-${randomUUID().slice(0, 6)}`;
    const policy = secondsPolicy(`http-${acct.toLowerCase()}`, { first_reminder: 1, second_reminder: 600 });
    await setPolicy({ db: stack.db.db }, { policy });
    const created = await call('POST', '/v1/plans', { body: { ...account(acct), initiate: { policy: policy.name } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ planId: `plan-${acct}`, created: true, outstandingMinor: 50_000, initiated: { alreadyRunning: false, policy: policy.name } });
    const planId = created.body!.planId as string;

    const partial = await call('POST', `/v1/plans/${planId}/payments`, { body: { paymentId: `${acct}-p1`, amountMinor: 20_000 } });
    expect(partial).toMatchObject({ status: 202, body: { delivered: 'workflow', amountMinor: 20_000, currency: 'USD' } });
    await eventually(async () => ((await call('GET', `/v1/plans/${planId}`)).body?.outstandingMinor === 30_000 ? true : undefined), 'the partial payment');

    const dueAt = new Date(Date.now() + 3_600_000).toISOString();
    const promise = await call('POST', `/v1/plans/${planId}/promises`, { as: 'rep', body: { amountMinor: 30_000, dueAt } });
    expect(promise).toMatchObject({ status: 201, body: { planId, status: 'promised' } });

    const paid = await call('POST', `/v1/plans/${planId}/payments`, { body: { paymentId: `${acct}-p2`, amountMinor: 30_000 } });
    expect(paid.status).toBe(202);
    const resolved = await eventually(async () => {
      const r = await call('GET', `/v1/plans/${planId}`, { as: 'rep' });
      return r.body?.status === 'resolved' ? r.body : undefined;
    }, 'the plan to resolve');
    expect(resolved).toMatchObject({ outstandingMinor: 0, promises: [{ status: 'kept', rep: 'test rep' }] });
    expect(resolved.timeline.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['payment', 'promise_made', 'promise_kept', 'resolved']));
  });

  it('adds new invoices to the account\'s open plan instead of making a second one', async () => {
    const acct = `ADD-${randomUUID().slice(0, 6)}`;
    const first = await call('POST', '/v1/plans', { body: account(acct) });
    expect(first).toMatchObject({ status: 201, body: { status: 'not_started', created: true, outstandingMinor: 50_000 } });
    const second = await call('POST', '/v1/plans', { body: account(acct, [{ number: `${acct}-1`, amountMinor: 50_000 }, { number: `${acct}-2`, amountMinor: 7_000 }]) });
    expect(second).toMatchObject({ status: 201, body: { planId: first.body!.planId, created: false, outstandingMinor: 57_000 } });
  });

  it('pages plans newest first with a cursor, each plan once', async () => {
    const accts = [0, 1, 2].map((i) => `PG${i}-${randomUUID().slice(0, 6)}`);
    for (const acct of accts) expect((await call('POST', '/v1/plans', { body: account(acct) })).status).toBe(201);
    const seen: Array<{ planId: string; createdAt: string }> = [];
    let cursor: string | null = null;
    do {
      const page = await call('GET', `/v1/plans?status=not_started&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { as: 'rep' });
      expect(page.status).toBe(200);
      seen.push(...page.body!.data);
      cursor = page.body!.nextCursor;
    } while (cursor);
    const ids = seen.map((p) => p.planId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const acct of accts) expect(ids).toContain(`plan-${acct}`);
    const order = seen.map((p) => p.createdAt);
    expect([...order].sort().reverse()).toEqual(order);
    const byAccount = await call('GET', `/v1/plans?accountId=${accts[1]}`);
    expect(byAccount.body).toMatchObject({ data: [{ planId: `plan-${accts[1]}`, outstandingMinor: 50_000 }], nextCursor: null });
    expect(await call('GET', '/v1/plans?cursor=bogus')).toMatchObject({ status: 422, body: { code: 'invalid', detail: 'The cursor is not one this API gave; start again without it.' } });
  });

  it('replays a POST with the same Idempotency-Key, refuses the key for another body, and makes one plan from two at once', async () => {
    const acct = `IDM-${randomUUID().slice(0, 6)}`;
    const headers = { 'idempotency-key': `create-${acct}` };
    const [a, b] = await Promise.all([call('POST', '/v1/plans', { body: account(acct), headers }), call('POST', '/v1/plans', { body: account(acct), headers })]);
    const statuses = [a.status, b.status].sort();
    expect([[201, 201], [201, 409]]).toContainEqual(statuses);
    const plans = await stack.db.db.select().from(collectionPlans).where(eq(collectionPlans.accountId, acct));
    expect(plans).toHaveLength(1);

    const replay = await call('POST', '/v1/plans', { body: account(acct), headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual((a.status === 201 ? a : b).body);

    const other = await call('POST', '/v1/plans', { body: account(acct, [{ number: `${acct}-9`, amountMinor: 1 }]), headers });
    expect(other).toMatchObject({ status: 422, body: { code: 'idempotency_key_reused' } });
    const [{ n }] = (await stack.db.db.execute(sql`select count(*)::int as n from invoices where account_id = ${acct}`)) as unknown as [{ n: number }];
    expect(n).toBe(1);

    // A payment retried with its key is applied once.
    const planId = `plan-${acct}`;
    const pay = { body: { paymentId: `${acct}-p1`, amountMinor: 1_000 }, headers: { 'idempotency-key': `pay-${acct}` } };
    expect((await call('POST', `/v1/plans/${planId}/payments`, pay)).status).toBe(202);
    const again = await call('POST', `/v1/plans/${planId}/payments`, pay);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await call('GET', `/v1/plans/${planId}`)).body).toMatchObject({ outstandingMinor: 49_000 });

    // The same payment sent twice at once with one key: one effect, whichever answers first.
    const twice = { body: { paymentId: `${acct}-p2`, amountMinor: 1_000 }, headers: { 'idempotency-key': `pay2-${acct}` } };
    const both = await Promise.all([call('POST', `/v1/plans/${planId}/payments`, twice), call('POST', `/v1/plans/${planId}/payments`, twice)]);
    expect([[202, 202], [202, 409]]).toContainEqual(both.map((r) => r.status).sort());
    // Two 202s only when the second was a replay of the first, not a second run.
    if (both.every((r) => r.status === 202)) expect(both.map((r) => r.headers.get('idempotent-replayed'))).toContain('true');
    const after = (await call('GET', `/v1/plans/${planId}`)).body!;
    expect(after.outstandingMinor).toBe(48_000);
    expect(after.timeline.filter((e: { summary: string }) => e.summary.includes(`${acct}-p2`))).toHaveLength(1);
  });

  it('refuses a revoked key at once, and a key over its rate with 429 and Retry-After', async () => {
    const ctx = { client: stack.client, db: stack.db.db, config: stack.config };
    const made = await createApiKey(ctx, { name: 'short-lived', role: 'ops' });
    expect((await call('GET', '/v1/policies', { as: made.key })).status).toBe(200);
    await revokeApiKey(ctx, { id: made.id });
    expect(await call('GET', '/v1/policies', { as: made.key })).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });

    const limited = createApi({ ctx, rateLimit: { perSecond: 1, burst: 2 } });
    const fresh = await createApiKey(ctx, { name: 'busy', role: 'ops' });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const res = await limited.request('/v1/policies', { headers: { authorization: `Bearer ${fresh.key}` } });
      statuses.push(res.status);
      retryAfter ??= res.headers.get('retry-after');
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(retryAfter).toBe('1');
  });
});

describe('a POST without a body', () => {
  it('reads as {} where every field is optional, and names the first missing field elsewhere', async () => {
    const acct = `NOB-${randomUUID().slice(0, 6)}`;
    expect((await call('POST', '/v1/plans', { body: account(acct) })).status).toBe(201);
    const initiated = await call('POST', `/v1/plans/plan-${acct}/initiate`);
    expect(initiated).toMatchObject({ status: 200, body: { alreadyRunning: false, policy: 'standard' } });
    const paused = await call('POST', `/v1/plans/plan-${acct}/pause`, { as: 'rep', body: { reason: 'dispute' } });
    expect(paused).toMatchObject({ status: 200, body: { status: 'on_hold' } });
    expect(await call('POST', `/v1/plans/plan-${acct}/resume`, { as: 'rep' })).toMatchObject({ status: 200, body: { status: 'in_progress' } });
    expect(await call('POST', `/v1/plans/plan-${acct}/payments`)).toMatchObject({ status: 422, body: { code: 'invalid', detail: 'paymentId is required.' } });
  });
});
