// `npm run bench:herd [-- --plans 100000] [-- --worker-processes K]`: the month-start herd. N plans
// whose first reminder falls due at the same moment, sent through Resend's batch endpoint (a
// local stand-in, bench/resend-counter.ts, that holds Resend's request limit and counts every
// message per key) at the real limit: 2 requests per second, 100 messages per request.
// Measures the time to drain, emails and requests per second (the busiest second must stay at
// the limit), messages doubled and lost (0 and 0), the workers' memory (peak, and first quarter
// of the drain against the last), database and Temporal persistence per plan, and the longest
// workflow history against Temporal's limits. Prints a table and appends to bench/results.jsonl.
//
// With TEMPORAL_ADDRESS and DATABASE_URL (e.g. `npm run cluster`'s) it runs against them and
// starts only workers: in this process, or K `dunning worker` processes. Otherwise it starts its
// own dev server (history in SQLite) and embedded PostgreSQL, as bench/run.ts does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { sql } from 'drizzle-orm';
import { initiateDunning } from '../client/dunning';
import { importRows, type ParsedRow } from '../client/import';
import { connectDatabase, migrateDatabase, type DatabaseHandle } from '../db/connection';
import { startEmbeddedPostgres } from '../db/embedded';
import { setPolicy } from '../db/policies';
import { loadConfig, type DunningConfig } from '../worker/config';
import { freePort, startDevServer } from '../worker/dev-server';
import { mailerFromConfig } from '../worker/mailer';
import { registerSearchAttributes } from '../worker/search-attributes';
import { resolveTemporalCli } from '../worker/toolchain';
import { bundleWorkflows, installRuntime, startWorkers, type EngineWorkers } from '../worker/worker';
import { workflowIdFor } from '../workflows/messages';
import { dunningBin, groupMembers } from '../test/engine-process';
import { herdPlan, herdPolicy } from '../test/fixtures';
import type { CounterStats } from './resend-counter';
import { commitAt } from './commit';
import { until, withConcurrency } from './loops';

const { values: opts } = parseArgs({
  options: {
    plans: { type: 'string', default: '100000' },
    'worker-processes': { type: 'string', default: '0' },
    /** Plans per second initiation is assumed to reach: the herd falls due once all should be initiated. */
    'initiate-rate': { type: 'string', default: '30' },
    /** Seconds from the first initiation to the herd's moment (overrides the estimate). */
    lead: { type: 'string' },
    rate: { type: 'string', default: '2' },
    batch: { type: 'string', default: '100' },
    'history-sample': { type: 'string', default: '1000' },
  },
});
const plans = Number(opts.plans);
const workerProcesses = Number(opts['worker-processes']);
const ratePerSecond = Number(opts.rate);
const batchSize = Number(opts.batch);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const commitAtStart = commitAt(root);
const log = (line: string) => console.log(line);
const runId = randomUUID().slice(0, 6);
const loadBefore = os.loadavg().map((l) => +l.toFixed(2));
const external = Boolean(process.env.TEMPORAL_ADDRESS && process.env.DATABASE_URL);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dunning-herd-'));
chmodSync(tmp, 0o755);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const mb = (bytes: number) => Math.round(bytes / 1e6);


/**
 * The Resend stand-in in a process of its own; resolves with its URL once it listens. It runs at
 * a higher priority where the user may set one (nice -10, as root): on a machine the workers
 * keep busy, a stand-in waiting for a core would stamp requests late and bunch them together.
 */
async function startCounter(): Promise<{ url: string; stats(prefix: string): Promise<CounterStats> }> {
  const command = [process.execPath, '--import', 'tsx', path.join(here, 'resend-counter.ts'), `--rate=${ratePerSecond}`];
  const child = spawn('nice', ['-n', '-10', ...command], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
  cleanups.push(() => child.kill('SIGTERM'));
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const url = `http://127.0.0.1:${(JSON.parse(line.toString()) as { port: number }).port}`;
  return { url, stats: async (prefix) => (await (await fetch(`${url}/stats?prefix=${encodeURIComponent(prefix)}`)).json()) as CounterStats };
}

/** Temporal and PostgreSQL: the ones named in the environment, or our own under tmp. */
async function services(config: DunningConfig): Promise<{ temporalAddress: string; databaseUrl: string; temporalBytes: () => Promise<number>; cliVersion: string }> {
  if (external) {
    const databaseUrl = process.env.DATABASE_URL!;
    // npm run cluster keeps Temporal's persistence and visibility in these two databases.
    const temporalBytes = async () => {
      const handle = connectDatabase(databaseUrl, { max: 1 });
      try {
        const [row] = await handle.db.execute<{ bytes: string }>(
          sql`select coalesce(sum(pg_database_size(datname)), 0)::text as bytes from pg_database where datname in ('temporal', 'temporal_visibility')`,
        );
        return Number(row!.bytes);
      } finally {
        await handle.close();
      }
    };
    return { temporalAddress: process.env.TEMPORAL_ADDRESS!, databaseUrl, temporalBytes, cliVersion: 'external' };
  }
  const cli = await resolveTemporalCli(log);
  if (!cli) throw new Error('bench: no Temporal CLI (run `npm run toolchain`).');
  const [pgPort, tPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const [pg, server] = await Promise.all([
    startEmbeddedPostgres({ dataDir: tmp, port: pgPort, database: 'herd' }),
    startDevServer({ cliPath: cli.path, dataDir: tmp, ip: '127.0.0.1', port: tPort, uiPort, namespace: config.temporal.namespace, searchAttributes: config.searchAttributes }),
  ]);
  cleanups.push(() => server.stop(), () => pg.stop());
  const sqlite = path.join(tmp, 'temporal.sqlite');
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  return {
    temporalAddress: server.address,
    databaseUrl: pg.url,
    temporalBytes: async () => size(sqlite) + size(`${sqlite}-wal`),
    cliVersion: execFileSync(cli.path, ['--version'], { encoding: 'utf8' }).trim(),
  };
}

/** Bytes of every table of ours (indexes and TOAST included). */
async function ourBytes(db: DatabaseHandle): Promise<number> {
  const [row] = await db.db.execute<{ bytes: string }>(sql`
    select coalesce(sum(pg_total_relation_size(c.oid)), 0)::text as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'p')`);
  return Number(row!.bytes);
}

interface Workers {
  /** Resident memory of the workers now: in-process, this process; else the sum of the worker processes. */
  rss(): number;
  stop(): Promise<void>;
}

async function inProcessWorkers(config: DunningConfig, db: DatabaseHandle, temporalAddress: string): Promise<Workers> {
  installRuntime({ engineLevel: 'WARN' });
  const native = await NativeConnection.connect({ address: temporalAddress });
  const workers: EngineWorkers = await startWorkers({ connection: native, config, db: db.db, mailer: mailerFromConfig(config).mailer, workflowBundle: await bundleWorkflows() });
  return {
    rss: () => process.memoryUsage().rss,
    async stop() {
      await workers.shutdown();
      await native.close();
    },
  };
}

/** K `dunning worker` processes, each with the run's task queues and mail settings and a metrics port of its own. */
async function spawnWorkers(k: number, config: DunningConfig, env: NodeJS.ProcessEnv): Promise<Workers> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < k; i++) {
    const configFile = path.join(tmp, `worker-${i}.json`);
    writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: config.temporal.taskQueues }, mail: { ratePerSecond, batchSize }, metrics: { port: await freePort() } }));
    const child = spawn(process.execPath, [dunningBin, 'worker'], { cwd: root, env: { ...env, DUNNING_CONFIG: configFile }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`bench: dunning worker ${i} exited:\n${out}`);
      return out.includes('Dunning worker is running.');
    }, 300_000, `dunning worker ${i}`, 1000);
  }
  const vmRss = (pid: number) => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      return 0;
    }
  };
  return {
    rss: () => children.reduce((sum, c) => sum + groupMembers(c.pid!).reduce((s, m) => s + vmRss(m.pid), 0), 0),
    async stop() {
      for (const c of children) if (c.exitCode === null) process.kill(-c.pid!, 'SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    },
  };
}

/** The busiest second: the most arrivals inside any one-second window. */
function busiestSecond(arrivals: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < arrivals.length; i++) {
    while (arrivals[i]! - arrivals[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

async function main(): Promise<Record<string, number | string>> {
  const counter = await startCounter();
  const apiKey = `re_herd_${runId}`;
  const env: NodeJS.ProcessEnv = { ...process.env, DUNNING_DATA_DIR: tmp, RESEND_API_KEY: apiKey, RESEND_BASE_URL: counter.url };
  const base = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: tmp, TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://x@127.0.0.1/x', RESEND_API_KEY: apiKey, RESEND_BASE_URL: counter.url });
  const svc = await services(base);
  const config: DunningConfig = {
    ...base,
    temporal: { ...base.temporal, address: svc.temporalAddress, taskQueues: { dunning: `herd-${runId}`, mail: `herd-${runId}-mail` } },
    postgres: { ...base.postgres, url: svc.databaseUrl },
    mail: { ...base.mail, ratePerSecond, batchSize },
  };
  Object.assign(env, { TEMPORAL_ADDRESS: svc.temporalAddress, DATABASE_URL: svc.databaseUrl });
  await migrateDatabase(svc.databaseUrl);
  const db = connectDatabase(svc.databaseUrl, { max: 10 });
  cleanups.push(() => db.close());
  const connection = await Connection.connect({ address: svc.temporalAddress });
  cleanups.push(() => connection.close());
  if (external) await registerSearchAttributes(connection, config, log);
  const client = new Client({ connection, namespace: config.temporal.namespace });

  const workers = workerProcesses > 0 ? await spawnWorkers(workerProcesses, config, env) : await inProcessWorkers(config, db, svc.temporalAddress);
  cleanups.unshift(() => workers.stop());
  log(`herd ${runId}: ${plans} plans, ${workerProcesses > 0 ? `${workerProcesses} worker processes` : 'workers in this process'}, ${external ? 'external services' : 'own dev server and PostgreSQL'}, ${ratePerSecond} requests/s x ${batchSize}`);

  const [dbBefore, temporalBefore] = [await ourBytes(db), await svc.temporalBytes()];
  const { timezone, dueOn } = herdPlan();
  const prefix = `plan-H${runId}-`;
  let t = Date.now();
  for (let from = 0; from < plans; from += 5_000) {
    const rows: ParsedRow[] = Array.from({ length: Math.min(5_000, plans - from) }, (_, k) => {
      const i = from + k;
      return {
        line: k + 2,
        accountId: `H${runId}-${i}`,
        accountName: `Herd account ${i}`,
        contactName: 'Herd Contact',
        contactEmail: `herd${i}@herd.example`,
        timezone,
        currency: 'USD',
        invoiceNumber: `H${runId}-INV-${i}`,
        amountMinor: 10_000,
        issuedOn: '2026-01-01',
        dueOn,
      };
    });
    await importRows(db.db, rows);
  }
  const importSec = (Date.now() - t) / 1000;
  const planIds = Array.from({ length: plans }, (_, i) => `${prefix}${i}`);

  const leadSec = opts.lead !== undefined ? Number(opts.lead) : Math.ceil(plans / Number(opts['initiate-rate'])) + 30;
  const at = new Date(Date.now() + leadSec * 1000);
  const policy = herdPolicy(`herd-${runId}`, at);
  await setPolicy(db.db, policy);
  log(`imported in ${importSec.toFixed(0)} s; the herd falls due at ${at.toISOString()} (in ${leadSec} s)`);

  const rss: Array<{ at: number; bytes: number }> = [];
  const sampler = setInterval(() => rss.push({ at: Date.now(), bytes: workers.rss() }), 1000);
  cleanups.unshift(() => clearInterval(sampler));
  t = Date.now();
  let late = 0;
  const ctx = { client, db: db.db, config };
  await withConcurrency(planIds, 50, async (planId) => {
    await initiateDunning(ctx, { planId, policyName: policy.name });
    if (Date.now() > at.getTime()) late++;
  });
  const initiateSec = (Date.now() - t) / 1000;
  log(`initiated in ${initiateSec.toFixed(0)} s (${(plans / initiateSec).toFixed(0)}/s), ${late} after the herd's moment`);

  const sent = sql`select count(*)::int as n from email_messages where plan_id like ${`${prefix}%`} and status = 'sent'`;
  let lastProgress = Date.now();
  await until(async () => {
    const n = (await db.db.execute<{ n: number }>(sent))[0]!.n;
    if (Date.now() - lastProgress >= 60_000) {
      lastProgress = Date.now();
      log(`${new Date().toISOString()}: ${n} of ${plans} reminders sent, worker RSS ${mb(workers.rss())} MB`);
    }
    return n === plans;
  }, leadSec * 1000 + plans * 100 + 600_000, 'every reminder to be sent', 1000);
  clearInterval(sampler);

  const stats = await counter.stats(`${prefix}`);
  const arrivals = [...stats.arrivals].sort((a, b) => a - b);
  const first = arrivals[0]!;
  const last = arrivals[arrivals.length - 1]!;
  const drainSec = (last - first) / 1000;
  const during = rss.filter((s) => s.at >= first && s.at <= last).map((s) => s.bytes);
  const quarter = Math.max(1, Math.floor(during.length / 4));
  const [dbAfter, temporalAfter] = [await ourBytes(db), await svc.temporalBytes()];

  const sampleSize = Math.min(plans, Number(opts['history-sample']));
  const sampled = Array.from({ length: sampleSize }, (_, i) => planIds[Math.floor((i * plans) / sampleSize)]!);
  let longest = { events: 0, bytes: 0 };
  await withConcurrency(sampled, 20, async (planId) => {
    const d = await client.workflow.getHandle(workflowIdFor(planId)).describe();
    if (d.historyLength > longest.events) longest = { events: d.historyLength, bytes: d.historySize ?? 0 };
  });

  return {
    plans,
    workerProcesses,
    services: external ? 'external' : 'own dev server + embedded PostgreSQL',
    ratePerSecond,
    batchSize,
    importSec: +importSec.toFixed(1),
    initiateSec: +initiateSec.toFixed(1),
    initiatedAfterHerd: late,
    drainSec: +drainSec.toFixed(1),
    emailsPerSec: +(plans / drainSec).toFixed(1),
    providerRequests: arrivals.length,
    providerRequestsPerSecMean: +((arrivals.length - 1) / drainSec).toFixed(2),
    providerRequestsBusiestSecond: busiestSecond(arrivals),
    providerLimited429: stats.limited,
    providerReplays: stats.replayed,
    providerConflicts409: stats.conflicts,
    messagesPerRequestMean: +mean(stats.messagesPerRequest).toFixed(1),
    messagesDoubled: stats.doubled,
    messagesLost: plans - stats.distinct,
    workerPeakRssMb: mb(Math.max(...rss.map((s) => s.bytes))),
    workerRssFirstQuarterMb: mb(mean(during.slice(0, quarter))),
    workerRssLastQuarterMb: mb(mean(during.slice(-quarter))),
    dbBytesPerPlan: Math.round((dbAfter - dbBefore) / plans),
    temporalBytesPerPlan: Math.round((temporalAfter - temporalBefore) / plans),
    longestHistoryEvents: longest.events,
    longestHistoryEventsOfLimit: `${((longest.events / 51_200) * 100).toFixed(3)} % of 51,200`,
    longestHistoryBytes: longest.bytes,
    longestHistoryBytesOfLimit: `${((longest.bytes / 52_428_800) * 100).toFixed(4)} % of 50 MB`,
    historySample: sampleSize,
    temporalCli: svc.cliVersion,
  };
}

let results: Record<string, number | string> | undefined;
try {
  results = await main();
} finally {
  for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch((err: unknown) => log(`cleanup: ${String(err)}`));
  rmSync(tmp, { recursive: true, force: true });
}
const record = {
  at: new Date().toISOString(),
  commit: commitAtStart,
  bench: 'herd',
  machine: { cores: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), cpu: os.cpus()[0]?.model ?? 'unknown', loadBefore },
  versions: {
    node: process.version,
    sdk: JSON.parse(readFileSync(path.join(root, 'node_modules/@temporalio/worker/package.json'), 'utf8')).version as string,
  },
  results,
};
appendFileSync(path.join(here, 'results.jsonl'), `${JSON.stringify(record)}\n`);
console.log('\n| measure | value |\n|---|---|');
for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${v} |`);
console.log(`\n${record.machine.cores} cores, load ${loadBefore.join(' / ')} before the run, commit ${record.commit}; appended to bench/results.jsonl`);
process.exit(0);
