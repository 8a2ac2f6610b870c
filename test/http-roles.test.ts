// Who may do what over HTTP, as DESIGN.md's table says: every role against every operation, each
// on fresh state. An allowed call succeeds; a refused one is 403 `forbidden` and changes nothing
// (rows, the plan's view, its Idempotency-Key). Keys that are missing, malformed, wrong or
// revoked are 401 on every route.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { createApiKey, revokeApiKey } from '../client/api-keys';
import { openApiPath } from '../client/http/openapi';
import { createPlan } from '../client/create-plan';
import { escalate, holdInvoice, initiateDunning, pause } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { planStatus } from '../client/status';
import { addWebhook, disableWebhook } from '../client/webhooks';
import { contacts } from '../db/schema';
import { currentSegmentationRules } from '../db/segmentation';
import { signPayToken } from '../templates/pay-link';
import { secondsPolicy } from './fixtures';
import { compositePlan, importCsvText, roles, rowCounts, startApiHarness, type ApiHarness, type Role } from './http-support';

let h: ApiHarness;
const run = randomUUID().slice(0, 6);
/** Steps an hour away: a plan's view changes only when a request changes it. */
const quietPolicy = `roles-quiet-${run}`;

beforeAll(async () => {
  h = await startApiHarness('http-roles');
  await setPolicy(h.ctx, { policy: secondsPolicy(quietPolicy, { upcoming_notice: 3600, manual_escalation: 7200 }, { maxPromises: 3 }) });
});
afterAll(async () => {
  await h?.close();
});

interface Request {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** What the request could change: counted (and the plan read) before and after a refusal. */
  scope: { accounts: string[]; policies?: string[]; webhookUrls?: string[]; segmentRules?: string[]; planId?: string };
}

interface Operation {
  name: string;
  /** DESIGN.md's "HTTP API" table: the contract the routes' allow(...) must keep. */
  roles: readonly Role[];
  /** The status an allowed role gets on the fresh state `prepare` makes. */
  success: number;
  prepare(cell: string): Promise<Request>;
}

const everyone: readonly Role[] = ['billing', 'rep', 'ops'];
const billing: readonly Role[] = ['billing', 'ops'];
const reps: readonly Role[] = ['rep', 'ops'];
const ops: readonly Role[] = ['ops'];
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
/** A webhook URL of one cell: this machine, a closed port, an event no suite's plan reaches. */
const webhookUrl = (cell: string) => `https://127.0.0.1:9/roles-${run}-${cell}`;

/** A plan for one cell of the table, made through the service layer; started unless told. */
async function planFor(cell: string, opts: { start?: boolean } = {}): Promise<{ acct: string; planId: string }> {
  const acct = `RL-${run}-${cell}`;
  const { planId } = await createPlan(h.ctx, compositePlan(acct));
  if (opts.start !== false) {
    await initiateDunning(h.ctx, { planId, policyName: quietPolicy });
    await h.untilBegun(planId);
  }
  return { acct, planId };
}

const operations: Operation[] = [
  {
    name: 'POST /v1/plans',
    roles: billing,
    success: 201,
    async prepare(cell) {
      const acct = `RL-${run}-${cell}`;
      return { method: 'POST', path: '/v1/plans', body: { ...compositePlan(acct), initiate: { policy: quietPolicy } }, scope: { accounts: [acct] } };
    },
  },
  {
    name: 'POST /v1/imports',
    roles: billing,
    success: 201,
    async prepare(cell) {
      const acct = `RL-${run}-${cell}`;
      return { method: 'POST', path: '/v1/imports', body: importCsvText([{ account: acct, invoice: `${acct}-1` }]), headers: { 'content-type': 'text/csv' }, scope: { accounts: [acct] } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/initiate',
    roles: billing,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell, { start: false });
      return { method: 'POST', path: `/v1/plans/${planId}/initiate`, body: { policy: quietPolicy }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/payments',
    roles: billing,
    success: 202,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell, { start: false });
      return { method: 'POST', path: `/v1/plans/${planId}/payments`, body: { paymentId: `${acct}-p`, amountMinor: 1_000 }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/cancel',
    roles: everyone,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      return { method: 'POST', path: `/v1/plans/${planId}/cancel`, body: { reason: 'Billed in error' }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'GET /v1/plans',
    roles: everyone,
    success: 200,
    async prepare(cell) {
      const { acct } = await planFor(cell, { start: false });
      return { method: 'GET', path: `/v1/plans?accountId=${acct}`, scope: { accounts: [acct] } };
    },
  },
  {
    name: 'GET /v1/plans/{planId}',
    roles: everyone,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell, { start: false });
      return { method: 'GET', path: `/v1/plans/${planId}`, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'GET /v1/plans/{planId}/preview',
    roles: everyone,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell, { start: false });
      return { method: 'GET', path: `/v1/plans/${planId}/preview?policy=${quietPolicy}`, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'GET /v1/pay-links/verify',
    roles: billing,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell, { start: false });
      const token = signPayToken({ planId, amountMinor: 50_000, currency: 'USD', expiresAt: new Date(Date.now() + 3_600_000) }, h.ctx.config.payLink.signingKey);
      return { method: 'GET', path: `/v1/pay-links/verify?token=${token}`, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/promises',
    roles: reps,
    success: 201,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      return { method: 'POST', path: `/v1/plans/${planId}/promises`, body: { amountMinor: 10_000, dueAt: inAnHour() }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/escalations',
    roles: reps,
    success: 201,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      return { method: 'POST', path: `/v1/plans/${planId}/escalations`, body: { reason: 'Wants a call' }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/pause',
    roles: reps,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      return { method: 'POST', path: `/v1/plans/${planId}/pause`, body: { reason: 'Dispute' }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/invoices/{invoiceNumber}/hold',
    roles: reps,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      return { method: 'POST', path: `/v1/plans/${planId}/invoices/${acct}-1/hold`, body: { reason: 'Disputed delivery' }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/invoices/{invoiceNumber}/release',
    roles: reps,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      await holdInvoice(h.ctx, { planId, invoiceNumber: `${acct}-1`, reason: 'Disputed delivery' });
      return { method: 'POST', path: `/v1/plans/${planId}/invoices/${acct}-1/release`, body: {}, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/resume',
    roles: reps,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      await pause(h.ctx, { planId, reason: 'Dispute' });
      return { method: 'POST', path: `/v1/plans/${planId}/resume`, body: {}, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/plans/{planId}/tasks/{taskId}/complete',
    roles: reps,
    success: 200,
    async prepare(cell) {
      const { acct, planId } = await planFor(cell);
      const { taskId } = await escalate(h.ctx, { planId, reason: 'Call them' });
      return { method: 'POST', path: `/v1/plans/${planId}/tasks/${taskId}/complete`, body: { outcome: 'contacted' }, scope: { accounts: [acct], planId } };
    },
  },
  {
    name: 'POST /v1/contacts/{contactId}/consent',
    roles: reps,
    success: 200,
    async prepare(cell) {
      const { acct } = await planFor(cell, { start: false });
      const [contact] = await h.ctx.db.select({ id: contacts.id }).from(contacts).where(eq(contacts.accountId, acct));
      return { method: 'POST', path: `/v1/contacts/${contact!.id}/consent`, body: { channel: 'email', consent: 'opted_out' }, scope: { accounts: [acct] } };
    },
  },
  {
    name: 'GET /v1/policies',
    roles: ops,
    success: 200,
    async prepare() {
      return { method: 'GET', path: '/v1/policies', scope: { accounts: [] } };
    },
  },
  {
    name: 'PUT /v1/policies/{name}',
    roles: ops,
    success: 200,
    async prepare(cell) {
      const name = `roles-${run}-${cell}`.toLowerCase();
      return { method: 'PUT', path: `/v1/policies/${name}`, body: secondsPolicy(name, { upcoming_notice: 60 }), scope: { accounts: [], policies: [name] } };
    },
  },
  {
    name: 'GET /v1/segments',
    roles: ops,
    success: 200,
    async prepare() {
      return { method: 'GET', path: '/v1/segments', scope: { accounts: [] } };
    },
  },
  {
    name: 'PUT /v1/segments',
    roles: ops,
    success: 200,
    async prepare(cell) {
      // The rules in force again, after a rule of this cell that no plan matches: the rules are
      // global to the shared database, and another suite's picks must not change under it.
      const rule = `roles-${run}-${cell}`.toLowerCase();
      const current = await currentSegmentationRules(h.ctx.db);
      const rules = [{ name: rule, when: { segment: [rule] }, policy: 'standard' }, ...(current?.rules.rules ?? [{ name: 'default', policy: 'standard' }])];
      return { method: 'PUT', path: '/v1/segments', body: { rules }, scope: { accounts: [], segmentRules: [rule] } };
    },
  },
  ...(['aging', 'promises', 'recovery', 'steps'] as const).map(
    (report): Operation => ({
      name: 'GET /v1/reports/{name}',
      roles: ops,
      success: 200,
      async prepare() {
        return { method: 'GET', path: `/v1/reports/${report}?policy=${quietPolicy}`, scope: { accounts: [], policies: [quietPolicy] } };
      },
    }),
  ),
  {
    name: 'GET /v1/forecast',
    roles: ops,
    success: 200,
    async prepare() {
      return { method: 'GET', path: `/v1/forecast?days=7&policy=${quietPolicy}`, scope: { accounts: [], policies: [quietPolicy] } };
    },
  },
  {
    name: 'POST /v1/webhooks',
    roles: ops,
    success: 201,
    async prepare(cell) {
      const url = webhookUrl(cell);
      return { method: 'POST', path: '/v1/webhooks', body: { url, events: 'plan.written_off' }, scope: { accounts: [], webhookUrls: [url] } };
    },
  },
  {
    name: 'GET /v1/webhooks',
    roles: ops,
    success: 200,
    async prepare() {
      return { method: 'GET', path: '/v1/webhooks', scope: { accounts: [] } };
    },
  },
  {
    name: 'GET /v1/webhooks/{id}',
    roles: ops,
    success: 200,
    async prepare(cell) {
      const url = webhookUrl(cell);
      const { id } = await addWebhook(h.ctx, { url, events: 'plan.written_off' });
      return { method: 'GET', path: `/v1/webhooks/${id}`, scope: { accounts: [], webhookUrls: [url] } };
    },
  },
  ...(['disable', 'enable', 'rotate'] as const).map(
    (verb): Operation => ({
      name: `POST /v1/webhooks/{id}/${verb}`,
      roles: ops,
      success: 200,
      async prepare(cell) {
        const url = webhookUrl(cell);
        const { id } = await addWebhook(h.ctx, { url, events: 'plan.written_off' });
        if (verb === 'enable') await disableWebhook(h.ctx, { id, by: 'the role matrix' });
        return { method: 'POST', path: `/v1/webhooks/${id}/${verb}`, body: {}, scope: { accounts: [], webhookUrls: [url] } };
      },
    }),
  ),
  {
    name: 'POST /v1/webhooks/{id}/redeliver',
    roles: ops,
    success: 200,
    async prepare(cell) {
      const url = webhookUrl(cell);
      const { id } = await addWebhook(h.ctx, { url, events: 'plan.written_off' });
      return { method: 'POST', path: `/v1/webhooks/${id}/redeliver`, body: { since: '2099-01-01T00:00:00Z' }, scope: { accounts: [], webhookUrls: [url] } };
    },
  },
  {
    // Port 9 on this machine takes no connection: the test event is answered 200 with its error.
    name: 'POST /v1/webhooks/{id}/test',
    roles: ops,
    success: 200,
    async prepare(cell) {
      const url = webhookUrl(cell);
      const { id } = await addWebhook(h.ctx, { url, events: 'plan.written_off' });
      return { method: 'POST', path: `/v1/webhooks/${id}/test`, body: {}, scope: { accounts: [], webhookUrls: [url] } };
    },
  },
];

/** Everything a refused request must leave as it was. */
async function snapshot(req: Request, idempotencyKey: string) {
  const [{ n: keys }] = (await h.ctx.db.execute(sql`select count(*)::int as n from idempotent_requests where key = ${idempotencyKey}`)) as unknown as [{ n: number }];
  return {
    rows: await rowCounts(h.ctx, req.scope),
    plan: req.scope.planId ? await planStatus(h.ctx, { planId: req.scope.planId }) : undefined,
    idempotencyKeys: keys,
  };
}

const cells = operations.flatMap((op, i) => roles.map((role) => ({ op, role, allowed: op.roles.includes(role), cell: `op${i}-${role}` })));

describe('the role matrix', () => {
  it('covers every operation of the OpenAPI document for every role', () => {
    const documented = Object.entries(JSON.parse(readFileSync(openApiPath, 'utf8')).paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect([...new Set(operations.map((op) => op.name.replace(/ \(.*\)$/, '')))].sort()).toEqual(documented.filter((op) => op.includes(' /v1/')).sort());
    expect(cells).toHaveLength(operations.length * roles.length);
  });

  it.each(cells.map((c) => ({ ...c, title: `${c.role} ${c.allowed ? 'may' : 'may not'} ${c.op.name}` })))('$title', async ({ op, role, allowed, cell }) => {
    const req = await op.prepare(cell);
    const idempotencyKey = `roles-${run}-${cell}`;
    const headers = { ...req.headers, ...(req.method === 'POST' ? { 'idempotency-key': idempotencyKey } : {}) };
    const before = await snapshot(req, idempotencyKey);
    const answer = await h.call(req.method, req.path, { as: role, body: req.body, headers });
    if (allowed) {
      expect(answer.status, answer.text.slice(0, 300)).toBe(op.success);
      return;
    }
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: 'forbidden', status: 403, type: 'urn:dunning:problem:forbidden' });
    expect(answer.body.detail).toBe(`The ${role} role may not ${op.name}; it is for ${op.roles.join(' and ')} keys.`);
    expect(await snapshot(req, idempotencyKey)).toEqual(before);
  });
});

describe('keys', () => {
  let requests: Request[];
  let scope: { accounts: string[]; policies: string[]; webhookUrls: string[]; segmentRules: string[] };
  let revoked: string;
  let wrongSecret: string;

  beforeAll(async () => {
    requests = [];
    for (const [i, op] of operations.entries()) requests.push(await op.prepare(`op${i}-keys`));
    scope = {
      accounts: requests.flatMap((r) => r.scope.accounts),
      policies: requests.flatMap((r) => r.scope.policies ?? []),
      webhookUrls: requests.flatMap((r) => r.scope.webhookUrls ?? []),
      segmentRules: requests.flatMap((r) => r.scope.segmentRules ?? []),
    };
    const made = await createApiKey(h.ctx, { name: 'revoked ops', role: 'ops' });
    await revokeApiKey(h.ctx, { id: made.id });
    revoked = made.key;
    // The ops key's id with another secret of the right shape.
    const [, id] = /^dunning_([0-9a-f]{16})_/.exec(h.keys.ops)!;
    wrongSecret = `dunning_${id}_${'A'.repeat(43)}`;
  });

  const unauthenticated: Array<[string, Record<string, string>]> = [
    ['no key', {}],
    ['a Basic header', { authorization: 'Basic b3BzOnNlY3JldA==' }],
    ['"Bearer" alone', { authorization: 'Bearer' }],
    ['two tokens', { authorization: 'Bearer one two' }],
    ['a key of the wrong shape', { authorization: 'Bearer dunning_not_a_key' }],
    ['an unknown key id', { authorization: `Bearer dunning_${'0'.repeat(16)}_${'A'.repeat(43)}` }],
    ['a 10,000-character token', { authorization: `Bearer ${'x'.repeat(10_000)}` }],
  ];

  it.each(unauthenticated)('refuses %s with 401 on every route', async (_what, headers) => {
    const before = await rowCounts(h.ctx, scope);
    for (const req of requests) {
      const answer = await h.call(req.method, req.path, { as: null, body: req.body, headers: { ...req.headers, ...headers } });
      expect({ route: `${req.method} ${req.path}`, status: answer.status, code: answer.body?.code }).toEqual({ route: `${req.method} ${req.path}`, status: 401, code: 'unauthenticated' });
    }
    expect(await rowCounts(h.ctx, scope)).toEqual(before);
  });

  it('refuses a revoked key and a well-formed key with a wrong secret with 401 on every route', async () => {
    const before = await rowCounts(h.ctx, scope);
    for (const key of [revoked, wrongSecret]) {
      for (const req of requests) {
        const answer = await h.call(req.method, req.path, { as: key, body: req.body, headers: req.headers });
        expect({ route: `${req.method} ${req.path}`, status: answer.status, detail: answer.body?.detail }).toEqual({
          route: `${req.method} ${req.path}`,
          status: 401,
          detail: 'The API key is unknown or revoked.',
        });
      }
    }
    expect(await rowCounts(h.ctx, scope)).toEqual(before);
  });
});
