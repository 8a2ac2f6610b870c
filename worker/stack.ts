// The local stack `npm start` runs: PostgreSQL (embedded unless DATABASE_URL), migrations,
// Temporal (the CLI dev server unless TEMPORAL_ADDRESS), and a worker, in one process tree.
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { connectDatabase, migrateDatabase, type DatabaseHandle } from '../db/connection';
import { startEmbeddedPostgres } from '../db/embedded';
import { temporalAddress, type DunningConfig } from './config';
import { startDevServer } from './dev-server';
import { registerSearchAttributes } from './search-attributes';
import { resolveTemporalCli } from './toolchain';
import { mailerFromConfig } from './mailer';
import { bundleWorkflows, connectWorker, startWorkers, type EngineWorkers } from './worker';

export interface Stack {
  config: DunningConfig;
  temporal: { address: string; embedded: boolean; uiUrl?: string; cliSource?: string };
  database: { url: string; embedded: boolean };
  mail: { kind: 'outbox' | 'resend'; where: string };
  client: Client;
  db: DatabaseHandle;
  workers: EngineWorkers;
  /** Settles when the workers stop (after shutdown, or on a fatal worker error). */
  running: Promise<void>;
  timings: Record<string, number>;
  shutdown(): Promise<void>;
}

type Log = (line: string) => void;

export async function startStack(config: DunningConfig, log: Log): Promise<Stack> {
  const timings: Record<string, number> = {};
  const cleanups: Array<() => Promise<void>> = [];
  const time = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
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
    let databaseUrl = config.postgres.url;
    if (!databaseUrl) {
      const pg = await time('postgres', () =>
        startEmbeddedPostgres({ dataDir: config.dataDir, port: config.postgres.port, database: config.postgres.database }),
      );
      cleanups.push(pg.stop);
      databaseUrl = pg.url;
    }
    await time('migrations', () => migrateDatabase(databaseUrl));
    const db = connectDatabase(databaseUrl);
    cleanups.push(db.close);

    let temporal: Stack['temporal'];
    if (config.temporal.address) {
      temporal = { address: config.temporal.address, embedded: false };
    } else {
      const cli = await time('temporal-cli', () => resolveTemporalCli(log));
      if (!cli) {
        throw new Error(
          'No Temporal CLI found: put `temporal` on PATH, set TEMPORAL_CLI_PATH, install Go (to build it), or set TEMPORAL_ADDRESS.',
        );
      }
      const server = await time('temporal', () =>
        startDevServer({
          cliPath: cli.path,
          dataDir: config.dataDir,
          ...config.devServer,
          namespace: config.temporal.namespace,
          searchAttributes: config.searchAttributes,
        }),
      );
      cleanups.push(server.stop);
      temporal = { address: server.address, embedded: true, uiUrl: server.uiUrl, cliSource: `${cli.path} (${cli.source})` };
    }

    const connection = await Connection.connect({
      address: temporalAddress(config),
      tls: config.temporal.tls || undefined,
      apiKey: config.temporal.apiKey,
    });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace });
    if (!temporal.embedded) await registerSearchAttributes(connection, config, log);

    const workflowBundle = await time('bundle', bundleWorkflows);
    const nativeConnection: NativeConnection = await connectWorker(config, temporal.address);
    cleanups.push(() => nativeConnection.close());
    const { mailer, kind, where } = mailerFromConfig(config);
    const workers = await startWorkers({ connection: nativeConnection, config, db: db.db, mailer, workflowBundle });
    // A worker's failure is reported through `running`; stopping the rest must still go on.
    cleanups.push(() => workers.shutdown().catch(() => {}));

    return {
      config,
      temporal,
      database: { url: databaseUrl, embedded: !config.postgres.url },
      mail: { kind, where },
      client,
      db,
      workers,
      running: workers.running,
      timings,
      shutdown,
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
