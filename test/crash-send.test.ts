// A worker process killed (SIGKILL) after Resend accepted a message but before the activity
// completed, and again between steps: new workers pick the plans up, retry the cut-off send with
// the same idempotency key, and every customer gets exactly one email per step.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { inArray } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { initiateDunning } from '../client/dunning';
import { planStatus } from '../client/status';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { setPolicy } from '../db/policies';
import { emailMessages } from '../db/schema';
import { sharedWorkerSetup, startEngine, type EngineProcess } from './engine-process';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startResendStandin, type ResendStandin } from './resend-standin';
import { deliveriesPerKey, testConfig } from './support';

let standin: ResendStandin;
let db: DatabaseHandle;
let connection: Connection;
let engine: EngineProcess | undefined;

beforeAll(async () => {
  standin = await startResendStandin();
  db = connectDatabase(inject('databaseUrl'), { max: 2 });
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterEach(async () => {
  if (engine && engine.child.exitCode === null) {
    engine.signal('SIGKILL');
    await engine.gone(10_000);
  }
});
afterAll(async () => {
  await connection?.close();
  await db?.close();
  await standin?.close();
});

describe('a worker killed in the middle of a send and between steps', () => {
  it('loses no step and sends nothing twice', async () => {
    const config = testConfig('crash-send');
    // `dunning worker`: the shared dev server and PostgreSQL are external to it.
    const setup = await sharedWorkerSetup(
      config,
      { temporalAddress: inject('temporalAddress'), databaseUrl: inject('databaseUrl') },
      { RESEND_API_KEY: 're_crash', RESEND_BASE_URL: standin.baseUrl },
      // One request per message; test/mail-batch.test.ts kills a worker in the middle of a batch.
      { batchSize: 1 },
    );
    const policy = `crash-${randomUUID().slice(0, 6)}`;
    await setPolicy(db.db, secondsPolicy(policy, { upcoming_notice: 0, first_reminder: 40 }));
    const plans = await Promise.all(Array.from({ length: 3 }, () => createPlan(db.db, { invoices: [{ amountMinor: 9_900, dueOn: dateOffset(7) }] })));
    const ids = plans.map((p) => p.planId);
    const noticeKeys = ids.map((id) => `${id}:upcoming_notice`);
    const client = new Client({ connection });
    const ledger = () => db.db.select().from(emailMessages).where(inArray(emailMessages.planId, ids));

    // 1. Resend accepts the first notice; the worker dies before hearing back.
    engine = await startEngine(setup, { command: 'worker' });
    standin.swallowNext();
    await initiateDunning({ client, db: db.db, config }, { planId: ids[0]!, policyName: policy });
    await eventually(async () => (standin.delivered.has(noticeKeys[0]!) ? true : undefined), 'Resend to accept the notice');
    engine.signal('SIGKILL');
    await engine.gone(10_000);
    expect((await ledger()).map((m) => m.status)).toEqual(['queued']);

    // 2. A new worker: the cut-off send is retried, the other plans start.
    engine = await startEngine(setup, { command: 'worker' });
    for (const planId of ids.slice(1)) await initiateDunning({ client, db: db.db, config }, { planId, policyName: policy });
    await eventually(async () => {
      const sent = (await ledger()).filter((m) => m.status === 'sent');
      return sent.length === ids.length ? sent : undefined;
    }, 'every notice to be sent', 90_000);

    // 3. Killed again while every plan waits for its first reminder (between steps).
    engine.signal('SIGKILL');
    await engine.gone(10_000);
    engine = await startEngine(setup, { command: 'worker' });
    for (const planId of ids) {
      await eventually(async () => {
        const s = await planStatus({ db: db.db }, { planId });
        return s.steps.every((x) => x.status === 'completed') ? s : undefined;
      }, `${planId} to finish`, 120_000);
    }

    const stepKeys = ids.flatMap((id) => [`${id}:upcoming_notice`, `${id}:first_reminder`]).sort();
    // Every send Resend received, per key: one per step, but for the send cut off by the kill
    // and its retry with the same key (the only one whose answer never came back).
    const sends = standin.deliveries.filter((d) => stepKeys.includes(d.idempotencyKey));
    expect(deliveriesPerKey(sends.map((d) => d.idempotencyKey))).toEqual({ ...Object.fromEntries(stepKeys.map((k) => [k, 1])), [noticeKeys[0]!]: 2 });
    expect(sends.filter((d) => !d.answered).map((d) => d.idempotencyKey)).toEqual([noticeKeys[0]]);
    const rows = await ledger();
    expect(rows.map((m) => m.idempotencyKey).sort()).toEqual(stepKeys);
    expect(rows.every((m) => m.status === 'sent' && m.provider === 'resend' && m.providerMessageId === standin.delivered.get(m.idempotencyKey))).toBe(true);
    for (const planId of ids) {
      expect((await planStatus({ db: db.db }, { planId })).timeline.filter((e) => e.kind === 'email_sent')).toHaveLength(2);
    }
  }, 300_000);
});
