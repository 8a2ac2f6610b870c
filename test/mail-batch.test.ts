// Sending through Resend's batch endpoint at the provider's rate: a herd of reminders falling due
// at once leaves in few, full requests, never more than the rate in any second (measured where
// Resend would count them), every message exactly once; a rate limit and a refused address
// behave as they do for a message sent alone.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NativeConnection } from '@temporalio/worker';
import { inArray, sql } from 'drizzle-orm';
import { createResendMailer } from '../activities/resend-mailer';
import { initiateDunning } from '../client/dunning';
import { planStatus } from '../client/status';
import { setPolicy } from '../db/policies';
import { emailBatches } from '../db/schema';
import { createPlan, eventually, herdPlan, herdPolicy, allLedgerRowsSent, ledgerRows, type PlanFixture } from './fixtures';
import { busiestSecond, startResendStandin, tightestSpan, type ResendStandin } from './resend-standin';
import { startWorkers, type EngineWorkers } from '../worker/worker';
import { workflowIdFor } from '../workflows/messages';
import { deliveriesPerKey, startTestStack, type TestStack } from './support';

const RATE = 2; // provider requests per second, Resend's default
const BATCH = 100;
let standin: ResendStandin;
let stack: TestStack;
let native: NativeConnection;
let mailWorker: EngineWorkers;

// The mail worker apart from the stack's, so a test can hold it back while reminders queue up.
const startMailWorker = () => startWorkers({ connection: native, config: stack.config, db: stack.db.db, mailer: stack.mailer, only: 'mail' });

beforeAll(async () => {
  standin = await startResendStandin();
  stack = await startTestStack('mail-batch', {
    // An API key of its own: its rate slot is not shared with other suites' providers.
    mailer: createResendMailer({ apiKey: `re_batch_${randomUUID().slice(0, 8)}`, baseUrl: standin.baseUrl }),
    mailRatePerSecond: RATE,
    mailBatchSize: BATCH,
    only: 'dunning',
  });
  native = await NativeConnection.connect({ address: inject('temporalAddress') });
  mailWorker = await startMailWorker();
});
afterAll(async () => {
  await mailWorker?.shutdown();
  await native?.close();
  await stack?.close();
  await standin?.close();
});

/** Until every plan's reminder waits on the mail task queue (scheduled, not yet started). */
async function untilQueued(plans: PlanFixture[]): Promise<void> {
  await eventually(async () => {
    for (const { planId } of plans) {
      const d = await stack.client.workflow.getHandle(workflowIdFor(planId)).describe();
      if ((d.raw.pendingActivities ?? []).length === 0) return undefined;
    }
    return true;
  }, 'every reminder to wait on the mail queue', 240_000);
}

/** `n` plans whose first reminder falls due at one moment, `leadMs` from now, after all are initiated. */
async function herd(n: number, leadMs: number, refused: (i: number) => boolean = () => false): Promise<{ plans: PlanFixture[]; keys: string[] }> {
  const { timezone, dueOn } = herdPlan();
  const plans: PlanFixture[] = [];
  for (let i = 0; i < n; i += 25) {
    plans.push(...(await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => createPlan(stack.db.db, { timezone, invoices: [{ amountMinor: 5_000, dueOn }] })))));
  }
  plans.forEach((p, i) => refused(i) && standin.refuseAddress(`pat+${p.accountId}@`, 'The `to` address is not a valid mailbox.'));
  const policy = herdPolicy(`herd-${randomUUID().slice(0, 6)}`, new Date(Date.now() + leadMs));
  await setPolicy(stack.db.db, policy);
  const ctx = { client: stack.client, db: stack.db.db, config: stack.config };
  for (let i = 0; i < plans.length; i += 25) {
    await Promise.all(plans.slice(i, i + 25).map(({ planId }) => initiateDunning(ctx, { planId, policyName: policy.name })));
  }
  return { plans, keys: plans.map((p) => `${p.planId}:first_reminder`) };
}

const batchRequestsWith = (keys: string[]) => {
  const mine = new Set(keys);
  return standin.requests.filter((r) => r.url === '/emails/batch' && r.emails?.some((e) => mine.has((e.headers as Record<string, string>)['X-Idempotency-Key']!)));
};
const ledger = (plans: PlanFixture[]) => ledgerRows(stack.db.db, plans);

describe('a herd of reminders through the batch endpoint', () => {
  it(`sends 300 waiting at once in full requests, at most ${RATE} in any second, each message once`, async () => {
    // The month-start herd as the provider meets it: a backlog on the mail queue, while the
    // provider's slots are taken (by other processes' requests) until every reminder waits in
    // the batcher. On a machine this small the engine schedules reminders slower than batches
    // drain them, so without the wait the requests would leave part full.
    await mailWorker.shutdown();
    const before = standin.requests.length;
    const { plans, keys } = await herd(300, 25_000);
    await untilQueued(plans);
    const rateKey = stack.mailer.batch!.rateKey;
    const holdSlot = (until: string) =>
      stack.db.db.execute(sql`insert into mail_rate_slots (provider, next_at) values (${rateKey}, ${until}::timestamptz)
        on conflict (provider) do update set next_at = excluded.next_at`);
    await holdSlot(new Date(Date.now() + 600_000).toISOString());
    mailWorker = await startMailWorker();
    // Every reminder is in the ledger (queued) once its activity has handed it to the batcher;
    // activities time out after 20 s, so the slot comes free after 15 s whatever.
    await eventually(async () => ((await ledger(plans)).length === plans.length ? true : undefined), 'every reminder to wait in the batcher', 15_000).catch(() => undefined);
    await holdSlot(new Date().toISOString());
    const rows = await allLedgerRowsSent(stack.db.db, plans, 240_000);

    const sends = standin.deliveries.filter((d) => keys.includes(d.idempotencyKey));
    expect(deliveriesPerKey(sends.map((d) => d.idempotencyKey))).toEqual(Object.fromEntries(keys.map((k) => [k, 1])));
    const requests = batchRequestsWith(keys);
    const perRequest = requests.map((r) => r.emails!.length);
    console.log(`300 reminders in ${requests.length} requests (${perRequest.join(', ')}), busiest second ${busiestSecond(standin.requests.slice(before))}, ${RATE + 1} requests at the closest ${tightestSpan(standin.requests.slice(before), RATE + 1)} ms apart`);
    expect(busiestSecond(standin.requests.slice(before))).toBeLessThanOrEqual(RATE);
    expect(keys.length / requests.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...perRequest)).toBe(BATCH);
    // The ledger names each message's batch, and the payloads kept for a re-send are gone.
    expect(rows.every((m) => m.batchId !== null && !m.payloadKept && m.providerMessageId === standin.delivered.get(m.idempotencyKey))).toBe(true);
    const batches = await stack.db.db.select().from(emailBatches).where(inArray(emailBatches.id, [...new Set(rows.map((m) => m.batchId!))]));
    expect(batches.every((b) => b.sentAt !== null)).toBe(true);
    expect(batches.map((b) => b.idempotencyKey).sort()).toEqual(requests.map((r) => r.headers['idempotency-key']).sort());
  }, 300_000);

  it(`paces a herd as the engine schedules it: at most ${RATE} requests in any second, each message once`, async () => {
    const before = standin.requests.length;
    const { plans, keys } = await herd(150, 15_000);
    await allLedgerRowsSent(stack.db.db, plans, 180_000);
    const requests = batchRequestsWith(keys);
    console.log(`150 reminders as scheduled: ${requests.length} requests (${requests.map((r) => r.emails!.length).join(', ')}), busiest second ${busiestSecond(standin.requests.slice(before))}, ${RATE + 1} requests at the closest ${tightestSpan(standin.requests.slice(before), RATE + 1)} ms apart`);
    expect(busiestSecond(standin.requests.slice(before))).toBeLessThanOrEqual(RATE);
    const sends = standin.deliveries.filter((d) => keys.includes(d.idempotencyKey));
    expect(deliveriesPerKey(sends.map((d) => d.idempotencyKey))).toEqual(Object.fromEntries(keys.map((k) => [k, 1])));
  }, 240_000);

  it('sends a message alone at once when nothing else is waiting', async () => {
    const { plans, keys } = await herd(1, 4_000);
    await eventually(async () => ((await ledger(plans))[0]?.status === 'sent' ? true : undefined), 'the reminder to be sent', 30_000);
    const [request] = batchRequestsWith(keys);
    expect(request!.emails).toHaveLength(1);
  });
});

describe('a batch the provider answers with an error', () => {
  it('retries the same batch under the same key after a 429, honouring retry-after, and sends each message once', async () => {
    standin.respond({ status: 429, body: { name: 'rate_limit_exceeded', message: 'Too many requests', statusCode: 429 }, headers: { 'retry-after': '5' } });
    const { plans, keys } = await herd(5, 4_000);
    await allLedgerRowsSent(stack.db.db, plans, 60_000);
    const requests = batchRequestsWith(keys);
    const refusedOnce = requests[0]!;
    const again = requests.filter((r) => r.headers['idempotency-key'] === refusedOnce.headers['idempotency-key']);
    expect(again).toHaveLength(2);
    expect(again[1]!.emails).toEqual(refusedOnce.emails);
    // Retry-After, not the retry policy's first interval (2 s), sets when the batch goes again.
    expect(again[1]!.at - refusedOnce.at).toBeGreaterThanOrEqual(5_000);
    const sends = standin.deliveries.filter((d) => keys.includes(d.idempotencyKey));
    expect(deliveriesPerKey(sends.map((d) => d.idempotencyKey))).toEqual(Object.fromEntries(keys.map((k) => [k, 1])));
  }, 90_000);

  it('fails only the refused message of a permissive batch, as a rejected email fails today; the others send', async () => {
    const { plans, keys } = await herd(12, 6_000, (i) => i === 7);
    const refused = plans[7]!;
    const s = await eventually(async () => {
      const v = await planStatus({ db: stack.db.db }, { planId: refused.planId });
      return v.steps[0]!.status === 'failed' && v.tasks.length > 0 ? v : undefined;
    }, 'the refused reminder to fail and a rep to get the plan', 60_000);
    expect(s.steps[0]!.reason).toContain('not a valid mailbox');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ kind: 'email_failed', status: 'open' }]);
    const rows = await eventually(async () => {
      const r = await ledger(plans);
      return r.length === plans.length && r.every((m) => m.status !== 'queued') ? r : undefined;
    }, 'every other reminder to be sent', 60_000);
    expect(rows.filter((m) => m.status === 'failed')).toMatchObject([{ planId: refused.planId, error: expect.stringContaining('not a valid mailbox'), payloadKept: false }]);
    expect(rows.filter((m) => m.status === 'sent')).toHaveLength(11);
    const carrying = batchRequestsWith([keys[7]!]);
    expect(carrying.every((r) => r.headers['x-batch-validation'] === 'permissive')).toBe(true);
    console.log(`the refused message rode in a request of ${carrying[0]!.emails!.length}`);
    const sends = standin.deliveries.filter((d) => keys.includes(d.idempotencyKey));
    expect(deliveriesPerKey(sends.map((d) => d.idempotencyKey))).toEqual(Object.fromEntries(keys.filter((_, i) => i !== 7).map((k) => [k, 1])));
  }, 90_000);
});
