// Journey throughput with 1, 2 and 4 `dunning worker` processes, on the production-shaped
// cluster (`npm run cluster`: Temporal's services as processes on PostgreSQL) and on the dev
// server, with the CPU each part used: where the curve flattens and which process holds it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { initiateDunning } from '../client/dunning';
import { importRows, type ParsedRow } from '../client/import';
import { connectDatabase, migrateDatabase } from '../db/connection';
import { startEmbeddedPostgres } from '../db/embedded';
import { setPolicy } from '../db/policies';
import { loadConfig, projectRoot, type DunningConfig } from '../worker/config';
import { freePort, startDevServer } from '../worker/dev-server';
import { startClusterProcess } from '../test/cluster-process';
import { dunningBin } from '../test/engine-process';
import { secondsPolicy } from '../test/fixtures';
import { cpuByProcess, cpuDelta } from './history-profile';
import { counterDelta, sumCounters } from './prometheus';

type Log = (line: string) => void;
/** How the worker processes poll (their config's `temporal.pollers`). */
type Pollers = DunningConfig['temporal']['pollers'];

interface Target {
  name: 'cluster' | 'devServer';
  temporalAddress: string;
  databaseUrl: string;
  /** The matching service's Prometheus endpoint (the cluster's; the dev server exposes none here). */
  matchingMetrics?: string;
  stop(): Promise<void>;
}

/**
 * Matching's workflow-task counters, summed over task queues and partitions: tasks handed to a
 * poller, those handed straight to one already waiting (sync match), and tasks written to the
 * persisted backlog because no poller was waiting (each a write to Temporal's database and a
 * read back).
 */
function matchingCounters(url: string) {
  return sumCounters(url, 'task_type="Workflow"', {
    polled: /^poll_success\{/,
    syncMatched: /^poll_success_sync\{/,
    persisted: /^task_write_latency_count\{/,
  });
}

const offsets = { upcoming_notice: 0, first_reminder: 5, second_reminder: 10, manual_escalation: 15 };
const steps = Object.keys(offsets).length;

/** K `dunning worker` processes against the target, each with its own metrics port, once all say they run. */
async function startWorkerProcesses(target: Target, k: number, dir: string, pollers: Pollers): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < k; i++) {
    const configFile = path.join(dir, `worker-${k}-${i}.config.json`);
    // The engine, not Resend's 2 requests/s, is what is measured.
    writeFileSync(configFile, JSON.stringify({ temporal: { pollers }, metrics: { port: await freePort() }, mail: { ratePerSecond: 1_000 } }));
    const child = spawn(process.execPath, [dunningBin, 'worker'], {
      cwd: projectRoot,
      env: { ...process.env, DUNNING_CONFIG: configFile, DUNNING_DATA_DIR: dir, TEMPORAL_ADDRESS: target.temporalAddress, DATABASE_URL: target.databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
  }
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          let out = '';
          const read = (d: Buffer) => {
            out += d.toString();
            if (!out.includes('Dunning worker is running.')) return;
            // From here its lines (one per email) are read and dropped.
            child.stdout!.off('data', read);
            child.stderr!.off('data', read);
            child.stdout!.resume();
            child.stderr!.resume();
            resolve();
          };
          child.stdout!.on('data', read);
          child.stderr!.on('data', read);
          child.once('exit', (code) => reject(new Error(`bench: a dunning worker exited with ${code} before it ran:\n${out}`)));
        }),
    ),
  );
  return children;
}

async function stopProcesses(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null) return undefined;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      return exited;
    }),
  );
}

/** n plans through the seconds-long journey with k worker processes: steps per second, and CPU seconds per process group. */
async function journeyThroughput(target: Target, k: number, n: number, dir: string, pollers: Pollers, log: Log) {
  const workers = await startWorkerProcesses(target, k, dir, pollers);
  const db = connectDatabase(target.databaseUrl, { max: 10 });
  const connection = await Connection.connect({ address: target.temporalAddress });
  try {
    const config = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: dir, TEMPORAL_ADDRESS: target.temporalAddress, DATABASE_URL: target.databaseUrl });
    const ctx = { client: new Client({ connection }), db: db.db, config };
    await setPolicy(db.db, secondsPolicy('bench-scaling', offsets));
    const prefix = `scale-${target.name}-${k}`;
    const rows: ParsedRow[] = Array.from({ length: n }, (_, i) => ({
      line: i + 2,
      accountId: `${prefix}-${i}`,
      accountName: `Bench ${i}`,
      contactName: 'Bench Contact',
      contactEmail: `bench${i}@bench.example`,
      timezone: 'Etc/UTC',
      currency: 'USD',
      invoiceNumber: `${prefix}-INV-${i}`,
      amountMinor: 10_000,
      issuedOn: new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10),
      dueOn: new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10),
    }));
    const planIds = (await importRows(db.db, rows)).plans.map((p) => p.planId);
    const cpu0 = cpuByProcess();
    const metricsUrl = target.matchingMetrics;
    const matching0 = metricsUrl ? await matchingCounters(metricsUrl) : undefined;
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < planIds.length) await initiateDunning(ctx, { planId: planIds[next++]!, policyName: 'bench-scaling' });
      }),
    );
    const done = sql`select count(*)::int as n from orchestration_steps where plan_id like ${`plan-${prefix}-%`} and status = 'completed'`;
    for (;;) {
      const [row] = await db.db.execute<{ n: number }>(done);
      if (row!.n === n * steps) break;
      if (Date.now() - started > 1_200_000) throw new Error(`bench: the ${target.name} journey with ${k} workers did not finish in 20 minutes`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const elapsed = (Date.now() - started) / 1000;
    const cpu = cpuDelta(cpu0, cpuByProcess());
    const stepsPerSec = +((n * steps) / elapsed).toFixed(1);
    let matching: { syncMatchPct: number; persistedPerJourney: number } | undefined;
    if (metricsUrl && matching0) {
      const m = counterDelta(matching0, await matchingCounters(metricsUrl));
      matching = {
        syncMatchPct: Math.round((100 * m.syncMatched) / Math.max(1, m.polled)),
        persistedPerJourney: +(m.persisted / n).toFixed(2),
      };
    }
    const matched = matching ? `; workflow tasks sync-matched ${matching.syncMatchPct} %, ${matching.persistedPerJourney} written to the backlog per journey` : '';
    log(`scaling ${target.name}, ${k} worker process${k === 1 ? '' : 'es'}: ${n} journeys in ${elapsed.toFixed(1)} s, ${stepsPerSec} steps/s${matched}; CPU s ${JSON.stringify(cpu)}`);
    return { stepsPerSec, cpu, elapsed, matching };
  } finally {
    await connection.close();
    await db.close();
    await stopProcesses(workers);
  }
}

async function clusterTarget(dir: string): Promise<Target> {
  // The cluster's own server processes, PostgreSQL and UI; the workers are the bench's.
  const cluster = await startClusterProcess(dir, { workers: 0, apis: 0 });
  const state = cluster.state();
  return {
    name: 'cluster',
    temporalAddress: state.temporalAddress,
    databaseUrl: state.databaseUrl,
    matchingMetrics: state.processes.find((p) => p.name === 'temporal-matching')?.metrics,
    stop: async () => {
      await cluster.stop();
    },
  };
}

async function devServerTarget(dir: string, cliPath: string): Promise<Target> {
  const [pgPort, port, uiPort] = [await freePort(), await freePort(), await freePort()];
  const config = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: dir });
  const [pg, server] = await Promise.all([
    startEmbeddedPostgres({ dataDir: dir, port: pgPort, database: 'scaling' }),
    startDevServer({ cliPath, dataDir: dir, ip: '127.0.0.1', port, uiPort, namespace: 'default', searchAttributes: config.searchAttributes }),
  ]);
  await migrateDatabase(pg.url);
  return {
    name: 'devServer',
    temporalAddress: server.address,
    databaseUrl: pg.url,
    stop: async () => {
      await server.stop();
      await pg.stop();
    },
  };
}

/**
 * The curve on each target: `n` journeys with each of `workerCounts` worker processes. Figures
 * are keyed scaling<Target>W<k>StepsPerSec, plus each target's ratio of its best to one worker.
 */
export async function scalingFigures(opts: { n: number; workerCounts: number[]; tmp: string; cliPath: string; pollers: Pollers; log: Log }): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  for (const name of ['cluster', 'devServer'] as const) {
    const dir = path.join(opts.tmp, `scaling-${name}`);
    mkdirSync(dir, { recursive: true });
    const target = name === 'cluster' ? await clusterTarget(dir) : await devServerTarget(dir, opts.cliPath);
    try {
      for (const k of opts.workerCounts) {
        const { stepsPerSec, cpu, elapsed, matching } = await journeyThroughput(target, k, opts.n, dir, opts.pollers, opts.log);
        const label = `scaling${name === 'cluster' ? 'Cluster' : 'DevServer'}W${k}`;
        results[`${label}StepsPerSec`] = stepsPerSec;
        if (matching) {
          results[`${label}SyncMatchPct`] = matching.syncMatchPct;
          results[`${label}BacklogWritesPerJourney`] = matching.persistedPerJourney;
        }
        // Where the 2 cores went: CPU seconds per second of the run, by process group.
        const busy = (group: (g: string) => boolean) => +(Object.entries(cpu).filter(([g]) => group(g)).reduce((s, [, v]) => s + v, 0) / elapsed).toFixed(2);
        results[`${label}CoresTemporal`] = busy((g) => g === 'server' || g === 'temporal');
        results[`${label}CoresPostgres`] = busy((g) => g === 'postgres');
        results[`${label}CoresWorkers`] = busy((g) => g === 'node' || g === 'MainThread');
      }
    } finally {
      await target.stop();
    }
  }
  return results;
}
