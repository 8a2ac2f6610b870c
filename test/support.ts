// Shared test wiring: a config pointing at the run's dev server and PostgreSQL, and a real
// worker on a task queue of its own so suites never pick up each other's workflows.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DunningContext } from '../client/dunning';
import { registerSearchAttributes } from '../worker/search-attributes';
import type { Clock } from '../activities/clock';
import type { Mailer, OutgoingEmail } from '../activities/mail';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { loadConfig, type DunningConfig } from '../worker/config';
import { mailerFromConfig, outboxDir } from '../worker/mailer';
import { installRuntime, startWorkers, type EngineWorkers } from '../worker/worker';

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

/**
 * The SDK runtime for a test file: the engine's INFO lines (one per email sent) stay out of the
 * run's output, which a thousand-plan suite would bury; test/engine-logs.test.ts checks that
 * they come out where the engine runs.
 */
export function installTestRuntime(): void {
  installRuntime({ engineLevel: 'WARN' });
}

/** How many times each idempotency key was delivered: a second delivery shows as a 2. */
/** A provider that takes every email and keeps it for the test to read (as sent: subject, text, html). */
export function capturingMailer(): { mailer: Mailer; sent: OutgoingEmail[] } {
  const sent: OutgoingEmail[] = [];
  const mailer: Mailer = {
    async send(email) {
      sent.push(email);
      return { provider: 'outbox', messageId: `msg-${sent.length}` };
    },
  };
  return { mailer, sent };
}

export function deliveriesPerKey(keys: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

export interface TestStack {
  config: DunningConfig;
  client: Client;
  db: DatabaseHandle;
  workers: EngineWorkers;
  mailer: Mailer;
  outboxDir: string;
  close(): Promise<void>;
}

/** The shared bundle from global setup, so no suite pays for webpack again. */
const workflowBundle = () => ({ codePath: inject('workflowBundlePath') });

/** A real worker (bundle from global setup) with a client and a db handle, on the shared services. */
export async function startTestStack(
  label: string,
  opts: {
    mailer?: Mailer;
    clock?: Clock;
    maxCachedWorkflows?: number;
    mailRatePerSecond?: number;
    mailBatchSize?: number;
    /** One worker only (a test that starts and stops the mail worker itself); default both. */
    only?: 'dunning' | 'mail';
    pollers?: DunningConfig['temporal']['pollers'];
  } = {},
): Promise<TestStack> {
  installTestRuntime();
  const config = testConfig(label);
  if (opts.mailRatePerSecond) config.mail.ratePerSecond = opts.mailRatePerSecond;
  if (opts.mailBatchSize) config.mail.batchSize = opts.mailBatchSize;
  if (opts.pollers) config.temporal.pollers = opts.pollers;
  const db = connectDatabase(inject('databaseUrl'), { max: 4 });
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const mailer = opts.mailer ?? mailerFromConfig(config).mailer;
  const workers = await startWorkers({
    connection: nativeConnection,
    config,
    db: db.db,
    mailer,
    clock: opts.clock,
    workflowBundle: workflowBundle(),
    maxCachedWorkflows: opts.maxCachedWorkflows,
    only: opts.only,
  });
  return {
    config,
    client: new Client({ connection, namespace: config.temporal.namespace }),
    db,
    workers,
    mailer,
    outboxDir: outboxDir(config),
    async close() {
      await workers.shutdown();
      await nativeConnection.close();
      await connection.close();
      await db.close();
    },
  };
}

/**
 * The environment a `dunning` command needs to drive a test stack as a user drives theirs: a
 * config naming the stack's task queues, its data dir (and outbox), the shared servers.
 */
export function cliEnv(stack: Pick<TestStack, 'config'>): NodeJS.ProcessEnv {
  const configFile = path.join(stack.config.dataDir, 'temporal.config.json');
  writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: stack.config.temporal.taskQueues } }));
  return {
    ...process.env,
    DUNNING_CONFIG: configFile,
    DUNNING_DATA_DIR: stack.config.dataDir,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    DATABASE_URL: inject('databaseUrl'),
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
  installTestRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('testServerPath') } },
  });
  const db = connectDatabase(inject('databaseUrl'), { max: 4 });
  const config = testConfig(label);
  await registerSearchAttributes(env.connection, config);
  const workers = await startWorkers({
    connection: env.nativeConnection,
    config,
    db: db.db,
    mailer: mailerFromConfig(config).mailer,
    workflowBundle: workflowBundle(),
  });
  return {
    env,
    db,
    config,
    ctx: { client: env.client, db: db.db, config },
    outboxDir: outboxDir(config),
    now: async () => new Date(await env.currentTimeMs()),
    async close() {
      await workers.shutdown();
      await env.teardown();
      await db.close();
    },
  };
}
