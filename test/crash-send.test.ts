// A worker process killed (SIGKILL) after Resend accepted a message but before the activity
// completed: a new worker retries the send with the same idempotency key, and the customer
// gets exactly one email.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { initiateDunning } from '../client/dunning';
import { planStatus } from '../client/status';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { setPolicy } from '../db/policies';
import { emailMessages } from '../db/schema';
import { startEngine, type EngineProcess, type EngineSetup } from './engine-process';
import { createPlan, dateOffset, eventually } from './fixtures';
import { startResendStandin, type ResendStandin } from './resend-standin';
import { testConfig } from './support';

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

describe('a worker killed in the middle of a send', () => {
  it('does not send twice', async () => {
    const config = testConfig('crash-send');
    const configFile = path.join(config.dataDir, 'temporal.config.json');
    writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: config.temporal.taskQueues } }));
    // Only a worker: the shared dev server and PostgreSQL are external to it.
    const setup: EngineSetup = {
      temporalAddress: inject('temporalAddress'),
      env: {
        ...process.env,
        DUNNING_CONFIG: configFile,
        DUNNING_DATA_DIR: config.dataDir,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        DATABASE_URL: inject('databaseUrl'),
        RESEND_API_KEY: 're_crash',
        RESEND_BASE_URL: standin.baseUrl,
      },
    };
    const policy = `crash-${randomUUID().slice(0, 6)}`;
    await setPolicy(db.db, {
      name: policy,
      steps: [{ key: 'upcoming_notice', action: 'email', template: 'upcoming-invoices', at: 'PT0S', from: 'initiated' }],
      maxPromises: 1,
      promiseGrace: 'P1D',
    });
    const { planId } = await createPlan(db.db, { invoices: [{ amountMinor: 9_900, dueOn: dateOffset(7) }] });
    const key = `${planId}:upcoming_notice`;

    engine = await startEngine(setup);
    standin.swallowNext(); // Resend accepts the first send; the worker dies before hearing back
    await initiateDunning({ client: new Client({ connection }), db: db.db, config }, { planId, policyName: policy });
    await eventually(async () => (standin.delivered.has(key) ? true : undefined), 'Resend to accept the notice');
    engine.signal('SIGKILL');
    await engine.gone(10_000);
    expect((await db.db.select().from(emailMessages).where(eq(emailMessages.idempotencyKey, key)))[0]?.status).toBe('queued');

    engine = await startEngine(setup);
    const view = await eventually(async () => {
      const s = await planStatus(db.db, planId);
      return s.steps[0]?.status === 'completed' ? s : undefined;
    }, 'the retried send to complete', 90_000);

    const attempts = standin.requests.filter((r) => r.headers['idempotency-key'] === key);
    expect(attempts).toHaveLength(2); // the one cut off by the kill, and the retry
    expect([...standin.delivered.keys()].filter((k) => k === key)).toHaveLength(1);
    const ledger = await db.db.select().from(emailMessages).where(eq(emailMessages.planId, planId));
    expect(ledger).toMatchObject([{ idempotencyKey: key, status: 'sent', provider: 'resend', providerMessageId: standin.delivered.get(key) }]);
    expect(view.timeline.filter((e) => e.kind === 'email_sent')).toHaveLength(1);
  });
});
