// `npm run cluster [-- --workers N --apis M]`: a production-shaped cluster on this machine. The
// Temporal server built from its Go module, one process per service (frontend, history,
// matching, worker) as a production deployment runs them, on PostgreSQL for persistence and SQL
// visibility (schemas set up with Temporal's own sql tool); the Temporal UI server; then N
// `dunning worker` and M `dunning api` processes. The embedded PostgreSQL serves as the database
// unless DATABASE_URL names one. A process that dies is started again, as a supervisor
// (systemd, Kubernetes) would; Ctrl-C stops them all, the engine's first and PostgreSQL last.
// What runs where is written to <data dir>/cluster/cluster.json for tools and tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { migrateDatabase } from '../db/connection';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded';
import { Client, Connection } from '@temporalio/client';
import { ownChild } from './child-processes';
import { registerSearchAttributes } from './search-attributes';
import { devServerUiUrl, loadConfig, projectRoot } from './config';
import { resolveTemporalCli, resolveTemporalServer, resolveTemporalUi, type TemporalServer } from './toolchain';

const log = (line: string) => console.log(`[cluster] ${line}`);

type Db = { host: string; port: string; user: string; password: string };
const temporalServices = ['history', 'matching', 'frontend', 'worker'] as const;
type TemporalService = (typeof temporalServices)[number];

/**
 * The server's ports, all from the frontend's (devServer.port, 7233 by default) so that two
 * clusters, or a cluster and a test run, can live on one machine: each service's gRPC and
 * membership port, the frontend's HTTP API, and each process's Prometheus endpoint.
 */
export function serverPorts(frontend: number) {
  const index = (s: TemporalService) => temporalServices.indexOf(s);
  return {
    frontend,
    frontendHttp: frontend + 10,
    grpc: (s: TemporalService) => (s === 'frontend' ? frontend : frontend + 1 + index(s)),
    membership: (s: TemporalService) => frontend + 20 + index(s),
    metrics: (s: TemporalService) => frontend + 30 + index(s),
  };
}

/**
 * History shards of a new cluster: each shard is owned by one history host and writes its
 * executions one transaction at a time. Fixed when the cluster is made; 4 are enough on one
 * machine (16 made no difference to a 5,000-plan herd).
 */
const newClusterShards = 4;

/** The shard count of the cluster in this database: kept from when it was made (Temporal refuses another), or a new cluster's. */
async function historyShards(databaseUrl: string): Promise<number> {
  const url = new URL(databaseUrl);
  url.pathname = '/temporal';
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<Array<{ n: number }>>`select count(*)::int as n from shards`;
    return row!.n > 0 ? row!.n : newClusterShards;
  } finally {
    await sql.end();
  }
}

/**
 * Temporal's development settings for SQL, with the history service's task schedulers sized to
 * its 20 PostgreSQL connections. Their default of 512 workers each (timers, transfers,
 * visibility) let a herd's thousands of due timers queue for connections past the 3 s a queue
 * task may take: 45,000 "context deadline exceeded" in 3 minutes of a 5,000-plan herd, each
 * cancelled call closing its connection, and mail left at 3 emails/s against 16 on the dev server.
 */
function dynamicConfigYaml(moduleDefaults: string): string {
  return `${moduleDefaults.trimEnd()}
# The dunning cluster: schedulers sized to the history service's connections (worker/cluster.ts).
history.timerProcessorSchedulerWorkerCount:
  - value: 16
history.transferProcessorSchedulerWorkerCount:
  - value: 16
history.visibilityProcessorSchedulerWorkerCount:
  - value: 8
`;
}

function serverYaml(db: Db, ports: ReturnType<typeof serverPorts>, service: TemporalService, dynamicConfig: string, shards: number): string {
  const store = (name: string, maxConns: number) => `    ${name === 'temporal' ? 'postgres-default' : 'postgres-visibility'}:
      sql:
        pluginName: "postgres12"
        databaseName: "${name}"
        connectAddr: "${db.host}:${db.port}"
        connectProtocol: "tcp"
        user: ${JSON.stringify(db.user)}
        password: ${JSON.stringify(db.password)}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const serviceBlock = (name: TemporalService) => `  ${name}:
    rpc:
      grpcPort: ${ports.grpc(name)}
      membershipPort: ${ports.membership(name)}
      bindOnLocalHost: true${name === 'frontend' ? `\n      httpPort: ${ports.frontendHttp}` : ''}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${shards}
  datastores:
${store('temporal', 20)}
${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  pprof:
    port: 0
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${ports.metrics(service)}"
services:
${temporalServices.map(serviceBlock).join('\n')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "localhost:${ports.frontend}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: ${JSON.stringify(dynamicConfig)}
  pollInterval: "10s"
`;
}

function uiYaml(frontend: string, host: string, port: number, namespace: string): string {
  return `temporalGrpcAddress: ${frontend}
host: ${host}
port: ${port}
enableUi: true
defaultNamespace: ${namespace}
showTemporalSystemNamespace: false
notifyOnNewVersion: false
refreshInterval: 1m
cors:
  cookieInsecure: true
  allowOrigins: []
auth:
  enabled: false
`;
}

/** Runs one command to its end; its output comes back in the error when it fails. */
function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    ownChild(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`))));
  });
}

/** Temporal's own schema tool: each database made once, then brought to the module's schema version. */
async function setUpSchemas(tools: TemporalServer, db: Db) {
  const env = { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: db.host, SQL_PORT: db.port, SQL_USER: db.user, SQL_PASSWORD: db.password };
  for (const [database, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    const made = await runTool(tools.sql, ['--db', database, 'create-database'], env).then(
      () => true,
      (err: Error) => {
        if (/already exists/.test(err.message)) return false;
        throw err;
      },
    );
    if (made) await runTool(tools.sql, ['--db', database, 'setup-schema', '-v', '0.0'], env);
    await runTool(tools.sql, ['--db', database, 'update-schema', '-d', path.join(tools.schemaDir, schema, 'versioned')], env);
    log(`${database}: ${made ? 'made and ' : ''}at the schema of Temporal's module`);
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitForPort(port: number, proc: Supervised, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.given) throw new Error(`${proc.name} keeps exiting before it answers; see ${proc.logFile}.`);
    if (await portAnswers(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${proc.name} did not answer on port ${port} within ${ms / 1000} s; see ${proc.logFile}.`);
}

async function waitForLine(proc: Supervised, line: string, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.given) throw new Error(`${proc.name} keeps exiting before it is ready; see ${proc.logFile}.`);
    if (existsSync(proc.logFile) && readFileSync(proc.logFile, 'utf8').includes(line)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${proc.name} did not say "${line}" within ${ms / 1000} s; see ${proc.logFile}.`);
}

/**
 * Registers the engine's search attributes and waits until a visibility query takes them: the
 * frontend refreshes what a namespace has every few seconds, and until then starting a plan
 * (which sets them) is refused.
 */
async function searchAttributesReady(address: string, config: ReturnType<typeof loadConfig>) {
  const connection = await Connection.connect({ address });
  try {
    await registerSearchAttributes(connection, config, log);
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const query = Object.keys(config.searchAttributes)
      .map((name) => `${name} IS NULL`)
      .join(' AND ');
    for (let attempt = 1; ; attempt++) {
      try {
        await client.workflow.count(query);
        return;
      } catch (err) {
        if (attempt === 60) throw new Error(`The cluster's frontend did not take the search attributes within a minute: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    await connection.close();
  }
}

/** One long-running process of the cluster, started again when it dies. */
interface Supervised {
  name: string;
  logFile: string;
  child?: ChildProcess;
  restarts: number;
  /** Set once it died too often in a row: the cluster does not start it again. */
  given: boolean;
  /** Extra facts for cluster.json (ports, URLs). */
  info: Record<string, unknown>;
}

/** A process that lived this long before dying is started again however often it died before. */
const HEALTHY_MS = 30_000;
const MAX_QUICK_RESTARTS = 5;

async function main() {
  const { values } = parseArgs({ options: { workers: { type: 'string', default: '1' }, apis: { type: 'string', default: '1' } } });
  const count = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error(`--${name} must be a whole number from 0 to 16.`);
    return n;
  };
  const workers = count('workers', values.workers!);
  const apis = count('apis', values.apis!);
  const config = loadConfig(process.env);
  const dir = path.join(config.dataDir, 'cluster');
  mkdirSync(dir, { recursive: true });
  const ports = serverPorts(config.devServer.port);
  const address = `127.0.0.1:${ports.frontend}`;
  const uiUrl = devServerUiUrl({ ip: '127.0.0.1', uiPort: config.devServer.uiPort });

  const procs: Supervised[] = [];
  let stopping = false;
  let pg: EmbeddedPostgresHandle | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  let shards: number | undefined;
  const stateFile = path.join(dir, 'cluster.json');
  const writeState = () =>
    writeFileSync(
      stateFile,
      JSON.stringify(
        {
          temporalAddress: address,
          uiUrl,
          databaseUrl,
          historyShards: shards,
          processes: procs.map((p) => ({ name: p.name, pid: p.child?.pid, restarts: p.restarts, log: p.logFile, ...p.info })),
        },
        null,
        2,
      ),
    );

  /** Starts `name` and keeps it running until the cluster stops. */
  const supervise = (name: string, start: () => ChildProcess, info: Record<string, unknown> = {}): Supervised => {
    const proc: Supervised = { name, logFile: path.join(dir, `${name}.log`), restarts: 0, given: false, info };
    const out = createWriteStream(proc.logFile, { flags: 'a' });
    let quick = 0;
    const launch = () => {
      const startedAt = Date.now();
      const child = start();
      child.stdout!.pipe(out, { end: false });
      child.stderr!.pipe(out, { end: false });
      ownChild(child);
      proc.child = child;
      writeState();
      child.once('exit', (code, signal) => {
        if (stopping) return;
        quick = Date.now() - startedAt > HEALTHY_MS ? 0 : quick + 1;
        if (quick > MAX_QUICK_RESTARTS) {
          proc.given = true;
          log(`${name} exited (${signal ?? `code ${code}`}) ${quick} times in a row within ${HEALTHY_MS / 1000} s of starting; not starting it again. See ${proc.logFile}.`);
          return;
        }
        proc.restarts++;
        log(`${name} exited (${signal ?? `code ${code}`}); starting it again (restart ${proc.restarts}).`);
        setTimeout(() => stopping || launch(), Math.min(1000 * quick, 5000));
      });
    };
    launch();
    procs.push(proc);
    return proc;
  };

  // The engine's processes first (they finish what they hold), then the UI, Temporal's frontend,
  // its other services, and PostgreSQL last.
  const stopGroup = async (group: Supervised[]) => {
    await Promise.all(
      group.map(async ({ child }) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(late);
      }),
    );
  };
  const stop = async () => {
    stopping = true;
    const engine = procs.filter((p) => p.name.startsWith('dunning-'));
    const server = procs.filter((p) => p.name.startsWith('temporal-') && p.name !== 'temporal-frontend');
    await stopGroup(engine);
    await stopGroup(procs.filter((p) => p.name === 'temporal-ui' || p.name === 'temporal-frontend'));
    await stopGroup(server);
    await pg?.stop();
  };
  // However this process ends, nothing it started is left running.
  process.on('exit', () => {
    for (const { child } of procs) if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    pg?.process?.kill('SIGQUIT');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log('Stopping the cluster…');
      stop().then(
        () => {
          log('Stopped cleanly.');
          process.exit(0);
        },
        () => process.exit(1),
      );
    });
  }

  const [tools, uiServer, cli] = [await resolveTemporalServer(log), await resolveTemporalUi(log), await resolveTemporalCli(log)];
  if (!databaseUrl) {
    // Its own log: Temporal's services racing to make the same rows at start-up log harmless errors.
    const pgLog = createWriteStream(path.join(dir, 'postgres.log'), { flags: 'a' });
    pg = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.postgres.port, database: config.postgres.database, log: (line) => pgLog.write(`${line}\n`) });
    databaseUrl = pg.url;
    log(`Embedded PostgreSQL on port ${config.postgres.port}, log ${path.join(dir, 'postgres.log')}`);
  }
  await migrateDatabase(databaseUrl);
  const url = new URL(databaseUrl);
  const db = { host: url.hostname, port: url.port || '5432', user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  log(`PostgreSQL ${db.host}:${db.port}: Temporal's schemas`);
  await setUpSchemas(tools, db);
  shards = await historyShards(databaseUrl);
  log(`History shards: ${shards}`);

  const dynamicConfig = path.join(dir, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfig, dynamicConfigYaml(readFileSync(tools.dynamicConfig, 'utf8')));
  // One process per Temporal service, each with its own config (only its metrics port differs).
  for (const service of temporalServices) {
    const configDir = `config-${service}`;
    mkdirSync(path.join(dir, configDir), { recursive: true });
    writeFileSync(path.join(dir, configDir, 'development.yaml'), serverYaml(db, ports, service, dynamicConfig, shards));
    supervise(`temporal-${service}`, () =>
      spawn(tools.server, ['--root', dir, '--config', configDir, '--env', 'development', '--allow-no-auth', 'start', '--service', service], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    { grpcPort: ports.grpc(service), metrics: `http://127.0.0.1:${ports.metrics(service)}/metrics` });
  }
  await waitForPort(ports.frontend, procs.find((p) => p.name === 'temporal-frontend')!);
  if (cli) {
    // The frontend answers before history owns its shards: retry until the namespace is made.
    for (let attempt = 1; ; attempt++) {
      // Closed plans' histories stay 30 days for ops to inspect in the Web UI (the CLI's default is 3).
      const made = await runTool(cli.path, ['operator', 'namespace', 'create', '--namespace', config.temporal.namespace, '--retention', '30d', '--address', address], process.env).then(
        () => undefined,
        (err: Error) => (/already (exists|registered)/i.test(err.message) ? undefined : err),
      );
      if (!made) break;
      if (attempt === 30) throw made;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  await searchAttributesReady(address, config);
  log(`Temporal server ${address} (frontend, history, matching and worker services), namespace ${config.temporal.namespace}`);

  mkdirSync(path.join(dir, 'ui-config'), { recursive: true });
  writeFileSync(path.join(dir, 'ui-config', 'development.yaml'), uiYaml(address, '127.0.0.1', config.devServer.uiPort, config.temporal.namespace));
  const ui = supervise(
    'temporal-ui',
    () => spawn(uiServer, ['--root', dir, '--config', 'ui-config', '--env', 'development', 'start'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }),
    { url: uiUrl },
  );

  // Each engine process reads the project's config with its own ports.
  const baseConfigFile = path.resolve(process.env.DUNNING_CONFIG ?? path.join(projectRoot, 'temporal.config.json'));
  const base = existsSync(baseConfigFile) ? (JSON.parse(readFileSync(baseConfigFile, 'utf8')) as Record<string, unknown>) : {};
  const engine = (command: 'worker' | 'api', i: number) => {
    const name = `dunning-${command}-${i + 1}`;
    const file = path.join(dir, `${name}.config.json`);
    const httpPort = config.http.port + i;
    const metricsPort = config.metrics.port + i;
    const http = { ...(base.http as object), port: httpPort };
    writeFileSync(file, JSON.stringify({ ...base, http, metrics: { ...(base.metrics as object), port: metricsPort } }, null, 2));
    const env: NodeJS.ProcessEnv = { ...process.env, DUNNING_CONFIG: file, TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl };
    delete env.DUNNING_METRICS_PORT; // each worker has its own port, written in its config
    return supervise(name, () => spawn(process.execPath, [path.join(projectRoot, 'client/launch.mjs'), command], { env, stdio: ['ignore', 'pipe', 'pipe'] }), {
      ...(command === 'worker' ? { metrics: `http://${config.metrics.host}:${metricsPort}/metrics` } : { url: `http://${config.http.host}:${httpPort}` }),
    });
  };
  for (let i = 0; i < workers; i++) engine('worker', i);
  const apiProcs = Array.from({ length: apis }, (_, i) => engine('api', i));
  for (const proc of procs.filter((p) => p.name.startsWith('dunning-worker-'))) await waitForLine(proc, 'Dunning worker is running.');
  for (const [i, proc] of apiProcs.entries()) await waitForPort(config.http.port + i, proc, 120_000);
  await waitForPort(config.devServer.uiPort, ui);
  writeState();

  log('');
  log(`Dunning cluster is running: Temporal ${address} on PostgreSQL, ${workers} worker process${workers === 1 ? '' : 'es'}, ${apis} API process${apis === 1 ? '' : 'es'}.`);
  log(`  Temporal Web UI: ${uiUrl}`);
  for (const p of procs) log(`  ${p.name}: ${Object.values(p.info).join(', ')}${Object.keys(p.info).length ? ', ' : ''}log ${p.logFile}`);
  log(`  CLI: TEMPORAL_ADDRESS=${address} DATABASE_URL=${databaseUrl.replace(/:[^:@/]*@/, ':…@')} npm run dunning -- …`);
  log(`  What runs where: ${stateFile}`);
  log('Ctrl-C stops it.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
