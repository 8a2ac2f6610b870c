// Shared test wiring: a config pointing at the run's dev server and PostgreSQL, and a real
// worker on a task queue of its own so suites never pick up each other's workflows.
import { chmodSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DunningContext } from '../client/dunning';
import { registerSearchAttributes } from '../worker/search-attributes';
import { systemClock, type Clock } from '../activities/clock';
import { createOutboxMailer, type Mailer } from '../activities/mail';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { loadConfig, type DunningConfig } from '../worker/config';
import { createDunningWorker, createMailWorker, installRuntime } from '../worker/worker';

export function testDataDir(label: string): string {
  const dir = mkdtempSync(path.join(inject('tmpRoot'), `${label}-`));
  chmodSync(dir, 0o755); // embedded PostgreSQL runs as its own user when tests run as root
  return dir;
}

/** Config for the shared test services, with a task queue unique to the caller. */
export function testConfig(label: string): DunningConfig {
  const config = loadConfig({
    PATH: process.env.PATH,
    DUNNING_DATA_DIR: testDataDir(label),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    DATABASE_URL: inject('databaseUrl'),
  });
  const suffix = randomUUID().slice(0, 8);
  config.temporal.taskQueues = { dunning: `${label}-${suffix}`, mail: `${label}-mail-${suffix}` };
  config.mail.ratePerSecond = 200; // suites that test the limit set their own
  return config;
}

export interface TestStack {
  config: DunningConfig;
  client: Client;
  db: DatabaseHandle;
  worker: Worker;
  outboxDir: string;
  close(): Promise<void>;
}

/** A real worker (bundle from global setup) with a client and a db handle, on the shared services. */
export async function startTestStack(
  label: string,
  opts: { mailer?: Mailer; clock?: Clock; maxCachedWorkflows?: number; mailRatePerSecond?: number } = {},
): Promise<TestStack> {
  installRuntime();
  const config = testConfig(label);
  if (opts.mailRatePerSecond) config.mail.ratePerSecond = opts.mailRatePerSecond;
  const db = connectDatabase(inject('databaseUrl'), { max: 4 });
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const outboxDir = path.join(config.dataDir, 'outbox');
  const deps = { db: db.db, mailer: opts.mailer ?? createOutboxMailer(outboxDir), clock: opts.clock ?? systemClock, config };
  const worker = await createDunningWorker({
    connection: nativeConnection,
    config,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    deps,
    maxCachedWorkflows: opts.maxCachedWorkflows,
  });
  const mailWorker = await createMailWorker({ connection: nativeConnection, config, deps });
  const running = Promise.all([worker.run(), mailWorker.run()]);
  return {
    config,
    client: new Client({ connection, namespace: config.temporal.namespace }),
    db,
    worker,
    outboxDir,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown(); // a test may have stopped it
      mailWorker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await db.close();
    },
  };
}

export interface TimeSkippingStack {
  env: TestWorkflowEnvironment;
  db: DatabaseHandle;
  config: DunningConfig;
  /** For the client functions (initiateDunning, recordPromise, …) against the test server. */
  ctx: DunningContext;
  outboxDir: string;
  /** The test server's clock: it runs ahead of the wall clock as tests skip time. */
  now(): Promise<Date>;
  close(): Promise<void>;
}

/** The Java time-skipping server with a real worker, the real db and an outbox. */
export async function startTimeSkippingStack(label: string): Promise<TimeSkippingStack> {
  installRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('testServerPath') } },
  });
  const db = connectDatabase(inject('databaseUrl'), { max: 4 });
  const config = testConfig(label);
  const outboxDir = path.join(config.dataDir, 'outbox');
  await registerSearchAttributes(env.connection, config);
  const deps = { db: db.db, mailer: createOutboxMailer(outboxDir), clock: systemClock, config };
  const worker = await createDunningWorker({ connection: env.nativeConnection, config, workflowBundle: { codePath: inject('workflowBundlePath') }, deps });
  const mailWorker = await createMailWorker({ connection: env.nativeConnection, config, deps });
  const running = Promise.all([worker.run(), mailWorker.run()]);
  return {
    env,
    db,
    config,
    ctx: { client: env.client, db: db.db, config },
    outboxDir,
    now: async () => new Date(await env.currentTimeMs()),
    async close() {
      worker.shutdown();
      mailWorker.shutdown();
      await running;
      await env.teardown();
      await db.close();
    },
  };
}
