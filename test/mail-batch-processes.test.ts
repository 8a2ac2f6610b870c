// Batch sending across `dunning worker` processes, as a cluster runs it: two workers share the
// provider's rate (their requests are timed by PostgreSQL, not by each process), and a worker
// killed (SIGKILL) after Resend accepted a batch but before the answer came back leaves a
// recorded batch that the next worker re-sends exactly, under the same key: nothing doubled.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { inArray, sql } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { createResendMailer } from '../activities/resend-mailer';
import { initiateDunning } from '../client/dunning';
import { planStatus } from '../client/status';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { setPolicy } from '../db/policies';
import { emailBatches } from '../db/schema';
import { sharedWorkerSetup, startEngine, type EngineProcess } from './engine-process';
import { createPlan, eventually, herdPlan, herdPolicy, allLedgerRowsSent, ledgerRows, type PlanFixture } from './fixtures';
import { busiestSecond, startResendStandin, tightestSpan, type ResendStandin } from './resend-standin';
import { deliveriesPerKey, testConfig } from './support';

const RATE = 2;
let standin: ResendStandin;
let db: DatabaseHandle;
let connection: Connection;
let engines: EngineProcess[] = [];

beforeAll(async () => {
  standin = await startResendStandin();
  db = connectDatabase(inject('databaseUrl'), { max: 4 });
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterEach(async () => {
  for (const engine of engines) {
    if (engine.child.exitCode === null && engine.child.signalCode === null) engine.signal('SIGKILL');
    await engine.gone(10_000);
  }
  engines = [];
});
afterAll(async () => {
  await connection?.close();
  await db?.close();
  await standin?.close();
});

/** A fresh deployment: its task queues, and a Resend API key (so a rate slot) of its own. */
async function deployment(label: string) {
  const config = testConfig(label);
  const apiKey = `re_${label}_${randomUUID().slice(0, 8)}`;
  const shared = { temporalAddress: inject('temporalAddress'), databaseUrl: inject('databaseUrl') };
  const setup = () => sharedWorkerSetup(config, shared, { RESEND_API_KEY: apiKey, RESEND_BASE_URL: standin.baseUrl }, { ratePerSecond: RATE, batchSize: 100 });
  const ctx = { client: new Client({ connection }), db: db.db, config };
  return { config, apiKey, setup, ctx };
}

async function herd(ctx: Awaited<ReturnType<typeof deployment>>['ctx'], n: number, at: Date): Promise<{ plans: PlanFixture[]; keys: string[] }> {
  const { timezone, dueOn } = herdPlan();
  const plans = await Promise.all(Array.from({ length: n }, () => createPlan(db.db, { timezone, invoices: [{ amountMinor: 7_700, dueOn }] })));
  const policy = herdPolicy(`herd-${randomUUID().slice(0, 6)}`, at);
  await setPolicy(db.db, policy);
  for (let i = 0; i < n; i += 25) await Promise.all(plans.slice(i, i + 25).map(({ planId }) => initiateDunning(ctx, { planId, policyName: policy.name })));
  return { plans, keys: plans.map((p) => `${p.planId}:first_reminder`) };
}

const ledger = (plans: PlanFixture[]) => ledgerRows(db.db, plans);
const allSent = (plans: PlanFixture[], timeoutMs: number) => allLedgerRowsSent(db.db, plans, timeoutMs);
const myRequests = (keys: string[]) => {
  const mine = new Set(keys);
  return standin.requests.filter((r) => r.emails?.some((e) => mine.has((e.headers as Record<string, string>)['X-Idempotency-Key']!)));
};

describe('two worker processes', () => {
  it(`share the provider's rate: at most ${RATE} requests in any second between them`, async () => {
    const d = await deployment('batch-two');
    engines = await Promise.all([startEngine(await d.setup(), { command: 'worker' }), startEngine(await d.setup(), { command: 'worker' })]);
    const { plans, keys } = await herd(d.ctx, 200, new Date(Date.now() + 15_000));
    await allSent(plans, 180_000);

    const requests = myRequests(keys);
    // When each request left its worker, by the workers' own logs: the rate as the engine kept it,
    // next to the rate as the stand-in saw it arrive (its stamps wait for its event loop too).
    // (A batch's line follows its ledger update by a moment.)
    const departures = await eventually(async () => {
      const lines = engines.flatMap((e) => e.output().split('\n').filter((l) => l.includes('"mail batch sent"')));
      return lines.length === requests.length ? lines.map((l) => ({ at: Date.parse((JSON.parse(l) as { leftAt: string }).leftAt) })) : undefined;
    }, 'a log line per request', 10_000);
    console.log(
      `two workers: 200 reminders in ${requests.length} requests (${requests.map((r) => r.emails!.length).join(', ')}); ` +
        `arrivals: busiest second ${busiestSecond(requests)}, ${RATE + 1} at the closest ${tightestSpan(requests, RATE + 1)} ms apart; ` +
        `departures: busiest second ${busiestSecond(departures)}, ${RATE + 1} at the closest ${tightestSpan(departures, RATE + 1)} ms apart`,
    );
    expect(busiestSecond(departures)).toBeLessThanOrEqual(RATE);
    expect(busiestSecond(requests)).toBeLessThanOrEqual(RATE);
    const sends = standin.deliveries.filter((dl) => keys.includes(dl.idempotencyKey));
    expect(deliveriesPerKey(sends.map((dl) => dl.idempotencyKey))).toEqual(Object.fromEntries(keys.map((k) => [k, 1])));
    // Both processes sent batches: the limit held between them, not inside one.
    for (const engine of engines) expect(engine.output()).toContain('mail batch sent');
  }, 300_000);
});

describe('a worker killed in the middle of a batch', () => {
  it('is followed by one that re-sends the recorded batch under the same key: each message delivered once', async () => {
    const d = await deployment('batch-crash');
    engines = [await startEngine(await d.setup(), { command: 'worker' })];
    // Another process holds the provider's slot for two seconds after the herd falls due, so the
    // herd gathers into the first request: the one Resend accepts and never answers.
    const at = new Date(Date.now() + 8_000);
    const { batch } = createResendMailer({ apiKey: d.apiKey });
    await db.db.execute(sql`insert into mail_rate_slots (provider, next_at) values (${batch!.rateKey}, ${new Date(at.getTime() + 2_000).toISOString()}::timestamptz)`);
    standin.swallowNext();
    const { plans, keys } = await herd(d.ctx, 10, at);
    const swallowed = await eventually(async () => myRequests(keys)[0], 'Resend to accept the batch', 60_000);
    expect(swallowed.emails!.length).toBeGreaterThan(1);
    engines[0]!.signal('SIGKILL');
    await engines[0]!.gone(10_000);
    // The swallowed batch is in the ledger, its members queued with the payloads a re-send needs.
    const swallowedKeys = swallowed.emails!.map((e) => (e.headers as Record<string, string>)['X-Idempotency-Key']);
    const recorded = (await ledger(plans)).filter((m) => swallowedKeys.includes(m.idempotencyKey));
    expect(recorded).toHaveLength(swallowedKeys.length);
    expect(new Set(recorded.map((m) => m.batchId)).size).toBe(1);
    expect(recorded.every((m) => m.status === 'queued' && m.payloadKept)).toBe(true);

    engines.push(await startEngine(await d.setup(), { command: 'worker' }));
    const rows = await allSent(plans, 120_000);

    const key = swallowed.headers['idempotency-key'];
    const again = myRequests(keys).filter((r) => r.headers['idempotency-key'] === key);
    console.log(`the swallowed batch carried ${swallowed.emails!.length} messages; requests with its key: ${again.length}`);
    expect(again).toHaveLength(2);
    expect(again[1]!.emails).toEqual(swallowed.emails);
    const sends = standin.deliveries.filter((dl) => keys.includes(dl.idempotencyKey));
    expect(deliveriesPerKey(sends.map((dl) => dl.idempotencyKey))).toEqual(Object.fromEntries(keys.map((k) => [k, 1])));
    expect(rows.every((m) => m.providerMessageId === standin.delivered.get(m.idempotencyKey) && !m.payloadKept)).toBe(true);
    const [sentBatch] = await db.db.select().from(emailBatches).where(inArray(emailBatches.idempotencyKey, [String(key)]));
    expect(sentBatch?.sentAt).not.toBeNull();
    for (const { planId } of plans) {
      const s = await eventually(async () => {
        const v = await planStatus({ db: db.db }, { planId });
        return v.steps.every((x) => x.status === 'completed') ? v : undefined;
      }, `${planId} to complete its step`, 60_000);
      expect(s.timeline.filter((e) => e.kind === 'email_sent')).toHaveLength(1);
    }
  }, 300_000);
});
