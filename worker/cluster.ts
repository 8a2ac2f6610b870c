// `npm run cluster [-- --workers N --apis M]`: a production-shaped cluster on this machine. The
// Temporal server built from its Go module, on PostgreSQL for persistence and SQL visibility
// (schemas set up with Temporal's own sql tool), then N `dunning worker` and M `dunning api`
// processes against it. The embedded PostgreSQL serves as the database unless DATABASE_URL
// names one. Ctrl-C stops every process, the engine's first and PostgreSQL last.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrateDatabase } from '../db/connection';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded';
import { ownChild } from './child-processes';
import { loadConfig, projectRoot } from './config';
import { resolveTemporalCli, resolveTemporalServer, type TemporalServer } from './toolchain';

const log = (line: string) => console.log(line);

/** The server's ports: the frontend where clients connect, the others internal. */
const ports = { frontend: 7233, frontendHttp: 7243, history: 7234, matching: 7235, worker: 7239, membership: 6933, metrics: 8000, pprof: 7936 };

function serverYaml(db: { host: string; port: string; user: string; password: string }, dynamicConfig: string): string {
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
  const service = (name: string, grpc: number, membership: number, extra = '') => `  ${name}:
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${extra}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
${store('temporal', 20)}
${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  pprof:
    port: ${ports.pprof}
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:${ports.metrics}"
services:
${service('frontend', ports.frontend, ports.membership, `\n      httpPort: ${ports.frontendHttp}`)}
${service('matching', ports.matching, ports.membership + 2)}
${service('history', ports.history, ports.membership + 1)}
${service('worker', ports.worker, ports.membership + 6)}
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
async function setUpSchemas(tools: TemporalServer, db: { host: string; port: string; user: string; password: string }) {
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
    log(`  ${database}: ${made ? 'made and ' : ''}at the schema of Temporal's module`);
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

async function waitForPort(port: number, what: string, child: ChildProcess, logFile: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before answering; see ${logFile}.`);
    if (await portAnswers(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not answer on port ${port} within ${ms / 1000} s; see ${logFile}.`);
}

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
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  const started: ChildProcess[] = [];
  let pg: EmbeddedPostgresHandle | undefined;
  // The engine's processes first (they finish what they hold), then the server, then PostgreSQL.
  const stopAll = async (children: ChildProcess[]) => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(late);
      }),
    );
  };
  const stop = async () => {
    await stopAll(started.slice(1));
    await stopAll(started.slice(0, 1));
    await pg?.stop();
  };
  // However this process ends, nothing it started is left running.
  process.on('exit', () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    pg?.process?.kill('SIGQUIT');
  });
  process.once('SIGINT', () => {
    log('\nStopping the cluster…');
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });

  const tools = await resolveTemporalServer(log);
  const cli = await resolveTemporalCli(log);
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    pg = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.postgres.port, database: config.postgres.database, log });
    databaseUrl = pg.url;
  }
  await migrateDatabase(databaseUrl);
  const url = new URL(databaseUrl);
  const db = { host: url.hostname, port: url.port || '5432', user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  log(`PostgreSQL ${db.host}:${db.port}: Temporal's schemas`);
  await setUpSchemas(tools, db);

  writeFileSync(path.join(dir, 'config', 'development.yaml'), serverYaml(db, tools.dynamicConfig));
  const serverLog = path.join(dir, 'temporal-server.log');
  const server = spawn(tools.server, ['--root', dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serverOut = createWriteStream(serverLog, { flags: 'a' });
  server.stdout!.pipe(serverOut);
  server.stderr!.pipe(serverOut);
  ownChild(server);
  started.push(server);
  await waitForPort(ports.frontend, 'The Temporal server', server, serverLog);
  const address = `127.0.0.1:${ports.frontend}`;
  if (cli) {
    await runTool(cli.path, ['operator', 'namespace', 'create', '--namespace', config.temporal.namespace, '--address', address], process.env).catch((err: Error) => {
      if (!/already (exists|registered)/i.test(err.message)) throw err;
    });
  }
  log(`Temporal server ${address} (log: ${serverLog}), namespace ${config.temporal.namespace}`);

  // Each engine process reads the project's config with its own ports.
  const baseConfigFile = path.resolve(process.env.DUNNING_CONFIG ?? path.join(projectRoot, 'temporal.config.json'));
  const base = existsSync(baseConfigFile) ? (JSON.parse(readFileSync(baseConfigFile, 'utf8')) as Record<string, unknown>) : {};
  const engine = (command: 'worker' | 'api', i: number) => {
    const file = path.join(dir, `${command}-${i + 1}.config.json`);
    const http = { ...(base.http as object), port: config.http.port + i };
    writeFileSync(file, JSON.stringify({ ...base, http, metrics: { ...(base.metrics as object), port: config.metrics.port + i } }, null, 2));
    const out = createWriteStream(path.join(dir, `${command}-${i + 1}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [path.join(projectRoot, 'client/launch.mjs'), command], {
      env: { ...process.env, DUNNING_CONFIG: file, TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    ownChild(child);
    started.push(child);
    return child;
  };
  for (let i = 0; i < workers; i++) engine('worker', i);
  for (let i = 0; i < apis; i++) engine('api', i);
  for (let i = 0; i < apis; i++) {
    await waitForPort(config.http.port + i, `dunning api ${i + 1}`, started[1 + workers + i]!, path.join(dir, `api-${i + 1}.log`));
  }
  log('');
  log(`Dunning cluster is running: Temporal ${address} on PostgreSQL, ${workers} worker process${workers === 1 ? '' : 'es'}, ${apis} API process${apis === 1 ? '' : 'es'}.`);
  for (let i = 0; i < workers; i++) log(`  worker ${i + 1}: metrics http://${config.metrics.host}:${config.metrics.port + i}/metrics, log ${path.join(dir, `worker-${i + 1}.log`)}`);
  for (let i = 0; i < apis; i++) log(`  api ${i + 1}: http://${config.http.host}:${config.http.port + i}, log ${path.join(dir, `api-${i + 1}.log`)}`);
  log(`  CLI: TEMPORAL_ADDRESS=${address} DATABASE_URL=… npm run dunning -- …`);
  log('Ctrl-C stops it.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
