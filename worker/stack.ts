// The processes of the engine. `npm start` runs the whole local stack in one process tree:
// PostgreSQL (embedded unless DATABASE_URL), migrations, Temporal (the CLI dev server unless
// TEMPORAL_ADDRESS), the workers and the HTTP server. `dunning worker` and `dunning api` run one
// part each against a cluster and database that are already there, so a team can run N of each.
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { connectDatabase, migrateDatabase, type DatabaseHandle } from '../db/connection';
import { embeddedDatabaseUrl, startEmbeddedPostgres } from '../db/embedded';
import { createApi } from '../client/http/app';
import { serveHttp } from '../client/http/server';
import { ensureAllWebhookDeliveries } from '../client/webhook-delivery';
import { ensureRetentionSchedule } from '../client/retention';
import { ownChild } from './child-processes';
import { StartupError, temporalAddress, type DunningConfig } from './config';
import { startDevServer } from './dev-server';
import { registerSearchAttributes } from './search-attributes';
import { resolveTemporalCli } from './toolchain';
import { mailerFromConfig } from './mailer';
import { processLogger } from './logging';
import { bundleWorkflows, connectWorker, startWorkers, type EngineWorkers } from './worker';

export interface Stack {
  config: DunningConfig;
  temporal: { address: string; embedded: boolean; uiUrl?: string; cliSource?: string };
  database: { url: string; embedded: boolean };
  mail: { kind: 'outbox' | 'resend'; where: string };
  client: Client;
  db: DatabaseHandle;
  workers?: EngineWorkers;
  http?: { url: string };
  /** Settles when the workers or the server stop (after shutdown, or on a fatal worker error). */
  running: Promise<void>;
  timings: Record<string, number>;
  shutdown(): Promise<void>;
}

type Log = (line: string) => void;

/**
 * What a process runs. `embedded` starts PostgreSQL and the Temporal dev server where none is
 * configured (npm start); without it, the configured ones (or a running `npm start`'s) are used.
 */
export interface StackParts {
  embedded: boolean;
  workers: boolean;
  api: boolean;
}

export const wholeStack: StackParts = { embedded: true, workers: true, api: true };

const seconds = (ms = 0) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Starts the stack step by step. Aborting `signal` (Ctrl-C during start-up) lets the step under
 * way finish (the dev server's wait for readiness and a Go build stop at once), stops whatever
 * has started, in reverse order, and rejects with the signal's reason once all of it has exited.
 */
export async function startStack(config: DunningConfig, log: Log, opts: { parts?: StackParts; signal?: AbortSignal } = {}): Promise<Stack> {
  const { parts = wholeStack, signal } = opts;
  const timings: Record<string, number> = {};
  const cleanups: Array<() => Promise<void>> = [];
  const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    signal?.throwIfAborted();
    const started = Date.now();
    const result = await work();
    timings[label] = Date.now() - started;
    return result;
  };
  const shutdown = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: unknown) => log(`shutdown: ${String(err)}`));
    }
  };

  try {
    // PostgreSQL first: the worker's activities need it, and migrations must land before them.
    let databaseUrl = config.postgres.url ?? (parts.embedded ? undefined : embeddedDatabaseUrl(config.postgres.port, config.postgres.database));
    if (!databaseUrl) {
      const pg = await step('postgres', () =>
        startEmbeddedPostgres({ dataDir: config.dataDir, port: config.postgres.port, database: config.postgres.database }),
      );
      if (pg.process) ownChild(pg.process, 'SIGQUIT');
      cleanups.push(pg.stop);
      databaseUrl = pg.url;
      log(`  PostgreSQL ready on 127.0.0.1:${config.postgres.port} (${seconds(timings.postgres)})`);
    }
    await step('migrations', () =>
      migrateDatabase(databaseUrl).catch((err: unknown) => {
        throw (err as { code?: string }).code === 'ECONNREFUSED'
          ? new StartupError(
              config.postgres.url
                ? 'Cannot reach PostgreSQL at DATABASE_URL.'
                : `Cannot reach PostgreSQL on port ${config.postgres.port}; start the engine with \`npm start\` or set DATABASE_URL.`,
            )
          : err;
      }),
    );
    const db = connectDatabase(databaseUrl);
    cleanups.push(db.close);

    let temporal: Stack['temporal'];
    if (config.temporal.address || !parts.embedded) {
      temporal = { address: temporalAddress(config), embedded: false };
    } else {
      const cli = await step('temporal-cli', () => resolveTemporalCli(log, process.env, signal));
      if (!cli) {
        throw new Error(
          'No Temporal CLI found: put `temporal` on PATH, set TEMPORAL_CLI_PATH, install Go (to build it), or set TEMPORAL_ADDRESS.',
        );
      }
      const server = await step('temporal', () =>
        startDevServer({
          cliPath: cli.path,
          dataDir: config.dataDir,
          ...config.devServer,
          namespace: config.temporal.namespace,
          searchAttributes: config.searchAttributes,
          signal,
        }),
      );
      cleanups.push(server.stop);
      temporal = { address: server.address, embedded: true, uiUrl: server.uiUrl, cliSource: `${cli.path} (${cli.source})` };
      log(`  Temporal dev server ready at ${server.address}, Web UI ${server.uiUrl} (${seconds(timings.temporal)})`);
    }

    const connection = await step('connection', () =>
      Connection.connect({ address: temporalAddress(config), tls: config.temporal.tls || undefined, apiKey: config.temporal.apiKey, connectTimeout: 5000 }).catch(
        () => {
          throw new StartupError(`Cannot reach Temporal at ${temporalAddress(config)}; start the engine with \`npm start\` or set TEMPORAL_ADDRESS.`);
        },
      ),
    );
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    if (!temporal.embedded) await step('search-attributes', () => registerSearchAttributes(connection, config, log));

    const { mailer, kind, where } = mailerFromConfig(config);
    let workers: EngineWorkers | undefined;
    if (parts.workers) {
      const workflowBundle = await step('bundle', bundleWorkflows);
      log(`  Workflow code bundled (${seconds(timings.bundle)})`);
      const nativeConnection: NativeConnection = await step('worker-connection', () => connectWorker(config, temporal.address));
      cleanups.push(() => nativeConnection.close());
      const started = await step('workers', () => startWorkers({ connection: nativeConnection, config, db: db.db, mailer, workflowBundle }));
      workers = started;
      // A worker's failure is reported through `running`; stopping the rest must still go on.
      cleanups.push(() => started.shutdown().catch(() => {}));
      // Each enabled webhook endpoint's delivery, running (already running: unchanged), now and
      // whenever an endpoint is added or enabled through either door.
      await step('webhooks', () => ensureAllWebhookDeliveries(client, config, db.db));
      const endpoints = await db.sql.listen('webhook_endpoints', () => {
        ensureAllWebhookDeliveries(client, config, db.db).catch((err: unknown) => processLogger().error({ err }, 'Could not start webhook deliveries'));
      });
      cleanups.push(() => endpoints.unlisten());
      await step('retention', () => ensureRetentionSchedule(client, config));
    }

    let http: { url: string; closed: Promise<void> } | undefined;
    if (parts.api) {
      const api = createApi({
        ctx: { client, db: db.db, config },
        rateLimit: { perSecond: config.http.rateLimitPerSecond, burst: config.http.rateLimitBurst },
        // Into the workers' JSON stream: a fault is an event, with its stack as a field.
        logError: (message, err) => processLogger().error({ err }, message),
        logRequest: (line) => processLogger().info(line, 'http request'),
      });
      const server = await step('http', () => serveHttp(api, config.http));
      // Stop taking requests before the workers and connections behind them go.
      cleanups.push(server.close);
      http = server;
    }

    return {
      config,
      temporal,
      database: { url: databaseUrl, embedded: !config.postgres.url },
      mail: { kind, where },
      client,
      db,
      workers,
      http: http && { url: http.url },
      running: Promise.all([workers?.running, http?.closed]).then(() => undefined),
      timings,
      shutdown,
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
