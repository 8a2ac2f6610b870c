// Server and database faults while journeys run: the Temporal dev server and PostgreSQL are each
// killed with SIGKILL and started again on the same files and ports. Activities retry, every
// journey completes, nothing is recorded twice and no email is delivered twice (counted over
// every outbox write, not the files that survive).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readOutboxDeliveries } from '../activities/mail';
import { initiateDunning, reportPayment } from '../client/dunning';
import { planStatus } from '../client/status';
import { connectDatabase, migrateDatabase, type DatabaseHandle } from '../db/connection';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded';
import { setPolicy } from '../db/policies';
import { freePort, startDevServer, type DevServerHandle } from '../worker/dev-server';
import { mailerFromConfig, outboxDir } from '../worker/mailer';
import { startWorkers, type EngineWorkers } from '../worker/worker';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { deliveriesPerKey, installTestRuntime, testConfig, testDataDir } from './support';

const PLANS = 5;
const dir = testDataDir('faults');
let temporalPort: number;
let uiPort: number;
let pgPort: number;
let server: DevServerHandle;
let pg: EmbeddedPostgresHandle;
let db: DatabaseHandle;
let connection: Connection;
let native: NativeConnection;
let workers: EngineWorkers;
const config = testConfig('faults');

const startServer = () =>
  startDevServer({
    cliPath: inject('temporalCliPath'),
    dataDir: dir,
    ip: '127.0.0.1',
    port: temporalPort,
    uiPort,
    namespace: 'default',
    searchAttributes: config.searchAttributes,
  });
const startPostgres = () => startEmbeddedPostgres({ dataDir: dir, port: pgPort, database: 'faults' });

/** SIGKILL for PostgreSQL: the postmaster's pid is the first line of postmaster.pid. */
function killPostgres(): void {
  const pid = Number(readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGKILL');
}

beforeAll(async () => {
  installTestRuntime();
  [temporalPort, uiPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  [server, pg] = await Promise.all([startServer(), startPostgres()]);
  await migrateDatabase(pg.url);
  db = connectDatabase(pg.url, { max: 4 });
  connection = await Connection.connect({ address: server.address });
  native = await NativeConnection.connect({ address: server.address });
  workers = await startWorkers({
    connection: native,
    config,
    db: db.db,
    mailer: mailerFromConfig(config).mailer,
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
});
afterAll(async () => {
  await workers?.shutdown();
  await native?.close();
  await connection?.close();
  await db?.close();
  await server?.stop();
  await pg?.stop();
});

describe('faults under running journeys', () => {
  it('survives SIGKILL of the dev server and of PostgreSQL, recording everything once', async () => {
    const policy = `faults-${randomUUID().slice(0, 6)}`;
    await setPolicy(db.db, secondsPolicy(policy, { upcoming_notice: 0, first_reminder: 6, second_reminder: 12, manual_escalation: 18 }));
    const plans = await Promise.all(Array.from({ length: PLANS }, () => createPlan(db.db, { invoices: [{ amountMinor: 3_000, dueOn: dateOffset(5) }] })));
    const ctx = { client: new Client({ connection }), db: db.db, config };
    await Promise.all(plans.map(({ planId }) => initiateDunning(ctx, { planId, policyName: policy })));

    // Temporal dies while first reminders are due, and comes back on the same SQLite file.
    await new Promise((r) => setTimeout(r, 4_000));
    process.kill(server.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 3_000));
    server = await startServer();

    // PostgreSQL dies around the second reminders, and comes back on the same data.
    await new Promise((r) => setTimeout(r, 5_000));
    const postgresKilledAt = Date.now();
    killPostgres();
    await new Promise((r) => setTimeout(r, 3_000));
    pg = await startPostgres();

    for (const { planId } of plans) {
      await eventually(async () => {
        const s = await planStatus({ db: db.db }, { planId });
        return s.steps.every((x) => x.status === 'completed') ? s : undefined;
      }, `${planId} to finish its steps`, 150_000);
      await reportPayment(ctx, { planId, paymentId: `${planId}-pay`, amountMinor: 3_000 });
      await reportPayment(ctx, { planId, paymentId: `${planId}-pay`, amountMinor: 3_000 });
    }
    for (const { planId } of plans) {
      const s = await eventually(async () => {
        const v = await planStatus({ db: db.db }, { planId });
        return v.status === 'resolved' && v.timeline.at(-1)?.kind === 'email_sent' ? v : undefined;
      }, `${planId} to resolve`, 60_000);
      const kinds = s.timeline.map((e) => e.kind);
      expect(kinds.filter((k) => k === 'email_sent')).toHaveLength(4); // 3 dunning emails + 1 receipt
      expect(kinds.filter((k) => k === 'payment')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'task_created')).toHaveLength(1);
      expect(s.tasks).toHaveLength(1);
    }
    const [counts] = await db.db.execute<{ emails: number; payments: number }>(sql`
      select (select count(*)::int from email_messages where status = 'sent') as emails,
             (select count(*)::int from payments) as payments`);
    expect(counts).toEqual({ emails: 4 * PLANS, payments: PLANS });

    // Every write to the outbox, not the files that survive it (a second write of a key
    // overwrites its file). The one second write allowed: a send the PostgreSQL kill cut off
    // between the outbox write and the ledger update, which the retry must write again.
    const writes = await readOutboxDeliveries(outboxDir(config));
    const cutOff = writes.filter(
      (w) =>
        Date.parse(w.at) > postgresKilledAt - 1_000 &&
        Date.parse(w.at) <= postgresKilledAt &&
        writes.some((later) => later.idempotencyKey === w.idempotencyKey && Date.parse(later.at) > postgresKilledAt),
    );
    if (cutOff.length > 0) console.log(`sends cut off by the PostgreSQL kill and written again: ${cutOff.map((w) => w.idempotencyKey).join(', ')}`);
    const expected = plans.flatMap(({ planId }) =>
      ['upcoming_notice', 'first_reminder', 'second_reminder', `payment:${planId}-pay:receipt`].map((step) => [`${planId}:${step}`, 1]),
    );
    expect(deliveriesPerKey(writes.filter((w) => !cutOff.includes(w)).map((w) => w.idempotencyKey))).toEqual(Object.fromEntries(expected));
  }, 300_000);
});
