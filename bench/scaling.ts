// Journey throughput with 1, 2 and 4 `dunning worker` processes, on the production-shaped
// cluster (`npm run cluster`: Temporal's services as processes on PostgreSQL) and on the dev
// server, with the CPU each part used: where the curve flattens and which process holds it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { initiateDunning } from '../client/dunning';
import { importRows } from '../client/import';
import { connectDatabase, migrateDatabase } from '../db/connection';
import { startEmbeddedPostgres } from '../db/embedded';
import { setPolicy } from '../db/policies';
import { loadConfig, projectRoot, type DunningConfig } from '../worker/config';
import { freePort, startDevServer } from '../worker/dev-server';
import { startClusterProcess } from '../test/cluster-process';
import { dunningBin } from '../test/engine-process';
import { secondsPolicy } from '../test/fixtures';
import { cpuByProcess, cpuDelta } from './history-profile';
import { until, withConcurrency } from './loops';
import { benchRows, laterPolicy } from './rows';
import { counterDelta, sumCounters } from './prometheus';
import { bareSteps, runBareJourneys } from './bare';

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

/** Node processes running `args`, once each has printed `ready`; from then on their output is read and dropped. */
async function startProcesses(runs: Array<{ args: string[]; env: NodeJS.ProcessEnv }>, ready: string): Promise<ChildProcess[]> {
  const children = runs.map(({ args, env }) => spawn(process.execPath, args, { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          let out = '';
          const read = (d: Buffer) => {
            out += d.toString();
            if (!out.includes(ready)) return;
            child.stdout!.off('data', read);
            child.stderr!.off('data', read);
            child.stdout!.resume();
            child.stderr!.resume();
            resolve();
          };
          child.stdout!.on('data', read);
          child.stderr!.on('data', read);
          child.once('exit', (code) => reject(new Error(`bench: ${commandLine(child)} exited with ${code} before it ran:\n${out}`)));
        }),
    ),
  );
  return children;
}
const commandLine = (child: ChildProcess) => child.spawnargs.slice(1).join(' ');

/** K `dunning worker` processes against the target, each with its own metrics port, once all say they run. */
async function startWorkerProcesses(target: Target, k: number, dir: string, pollers: Pollers): Promise<ChildProcess[]> {
  const runs: Array<{ args: string[]; env: NodeJS.ProcessEnv }> = [];
  for (let i = 0; i < k; i++) {
    const configFile = path.join(dir, `worker-${k}-${i}.config.json`);
    // The engine, not Resend's 2 requests/s, is what is measured.
    writeFileSync(configFile, JSON.stringify({ temporal: { pollers }, metrics: { port: await freePort() }, mail: { ratePerSecond: 1_000 } }));
    runs.push({
      args: [dunningBin, 'worker'],
      env: { DUNNING_CONFIG: configFile, DUNNING_DATA_DIR: dir, TEMPORAL_ADDRESS: target.temporalAddress, DATABASE_URL: target.databaseUrl },
    });
  }
  return startProcesses(runs, 'Dunning worker is running.');
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
    const planIds = await importBenchPlans(db, prefix, n);
    const cpu0 = cpuByProcess();
    const metricsUrl = target.matchingMetrics;
    const matching0 = metricsUrl ? await matchingCounters(metricsUrl) : undefined;
    const started = Date.now();
    await withConcurrency(planIds, 50, (planId) => initiateDunning(ctx, { planId, policyName: 'bench-scaling' }));
    const done = sql`select count(*)::int as n from orchestration_steps where plan_id like ${`plan-${prefix}-%`} and status = 'completed'`;
    await untilCount(db, done, n * steps, 1_200_000, `the ${target.name} journey with ${k} workers`);
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

/**
 * The yardstick on the same target: n bare runs through the same steps (bare-workflow.ts, its
 * worker a process of its own polling as the engine's do), without and then with the journey's
 * search attributes, each ending after its last step as the journeys here are not paid. Steps
 * per second and CPU seconds per process group, for each.
 */
async function bareThroughput(target: Target, n: number, opts: { maxCachedWorkflows: number; pollers: Pollers }, log: Log) {
  // Its own process, as the engine's worker is: the client's work stays in this one for both.
  const workers = await startProcesses(
    [
      {
        args: ['--import', 'tsx', path.join(projectRoot, 'bench/bare-worker.ts')],
        env: { TEMPORAL_ADDRESS: target.temporalAddress, BARE_MAX_CACHED: String(opts.maxCachedWorkflows), BARE_POLLERS: opts.pollers },
      },
    ],
    'Bare worker is running.',
  );
  const connection = await Connection.connect({ address: target.temporalAddress });
  try {
    const client = new Client({ connection });
    const figures: Array<{ stepsPerSec: number; cpu: Record<string, number> }> = [];
    for (const attributes of [false, true]) {
      const ids = Array.from({ length: n }, (_, i) => `bare-${target.name}-${attributes ? 'attributes' : 'plain'}-${i}`);
      const cpu0 = cpuByProcess();
      const { elapsed } = await runBareJourneys(client, ids, bareSteps(offsets, 1000), { attributes, concurrency: 50, payment: 'none' });
      const cpu = cpuDelta(cpu0, cpuByProcess());
      const stepsPerSec = +((n * steps) / elapsed).toFixed(1);
      log(`scaling ${target.name}, bare Temporal${attributes ? ' with the search attributes' : ''}: ${n} runs in ${elapsed.toFixed(1)} s, ${stepsPerSec} steps/s; CPU s ${JSON.stringify(cpu)}`);
      figures.push({ stepsPerSec, cpu });
    }
    return { bare: figures[0]!, withAttributes: figures[1]! };
  } finally {
    await connection.close();
    await stopProcesses(workers);
  }
}

/**
 * n plans initiated on the target under a policy whose first step is 30 days away, begun by one
 * worker process and left asleep: the plans a running engine has in flight while the journeys run.
 */
async function initiateAsleep(target: Target, n: number, dir: string, pollers: Pollers, log: Log) {
  const workers = await startWorkerProcesses(target, 1, dir, pollers);
  const db = connectDatabase(target.databaseUrl, { max: 10 });
  const connection = await Connection.connect({ address: target.temporalAddress });
  try {
    const config = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: dir, TEMPORAL_ADDRESS: target.temporalAddress, DATABASE_URL: target.databaseUrl });
    const ctx = { client: new Client({ connection }), db: db.db, config };
    await setPolicy(db.db, laterPolicy('bench-asleep'));
    const planIds = await importBenchPlans(db, `asleep-${target.name}`, n);
    const started = Date.now();
    await withConcurrency(planIds, 50, (planId) => initiateDunning(ctx, { planId, policyName: 'bench-asleep' }));
    const waiting = sql`select count(*)::int as n from orchestration_steps where plan_id like ${`plan-asleep-${target.name}-%`} and status = 'waiting'`;
    await untilCount(db, waiting, n, 1_200_000, `the ${target.name}'s ${n} sleeping plans to begin`);
    log(`scaling ${target.name}: ${n} plans initiated and asleep until their first step in 30 days (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    await connection.close();
    await db.close();
    await stopProcesses(workers);
  }
}

/** Imports n one-invoice accounts named `${prefix}-i`; their plans' ids. */
async function importBenchPlans(db: ReturnType<typeof connectDatabase>, prefix: string, n: number): Promise<string[]> {
  return (await importRows(db.db, benchRows(prefix, n))).plans.map((p) => p.planId);
}

/** Polls `query` (a count) until it reaches `n`. */
const untilCount = (db: ReturnType<typeof connectDatabase>, query: ReturnType<typeof sql>, n: number, timeoutMs: number, what: string) =>
  until(async () => (await db.db.execute<{ n: number }>(query))[0]!.n === n, timeoutMs, what);

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
 * The curve on each target: `n` journeys with each of `workerCounts` worker processes, after
 * `inFlight` plans were initiated there and left asleep. Figures are keyed
 * scaling<Target>W<k>StepsPerSec, with the cores each part kept busy; when one worker process is
 * among the counts, also bare Temporal's steps/s on the target and the engine's ratio to it.
 */
export async function scalingFigures(opts: { n: number; workerCounts: number[]; inFlight: number; tmp: string; cliPath: string; pollers: Pollers; log: Log }): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  const config = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: opts.tmp });
  for (const name of ['cluster', 'devServer'] as const) {
    const dir = path.join(opts.tmp, `scaling-${name}`);
    mkdirSync(dir, { recursive: true });
    const target = name === 'cluster' ? await clusterTarget(dir) : await devServerTarget(dir, opts.cliPath);
    try {
      if (opts.inFlight > 0) await initiateAsleep(target, opts.inFlight, dir, opts.pollers, opts.log);
      const prefix = name === 'cluster' ? 'scalingCluster' : 'scalingDevServer';
      for (const k of opts.workerCounts) {
        const { stepsPerSec, cpu, elapsed, matching } = await journeyThroughput(target, k, opts.n, dir, opts.pollers, opts.log);
        const label = `${prefix}W${k}`;
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
      // One worker process against bare Temporal on the same target: what the engine adds there.
      if (!opts.workerCounts.includes(1)) continue;
      const { bare, withAttributes } = await bareThroughput(target, opts.n, { maxCachedWorkflows: config.temporal.maxCachedWorkflows, pollers: opts.pollers }, opts.log);
      const temporalPer1000 = (cpu: Record<string, number>) => +(((cpu.server ?? 0) + (cpu.temporal ?? 0)) * (1000 / opts.n)).toFixed(1);
      Object.assign(results, {
        [`${prefix}BareStepsPerSec`]: bare.stepsPerSec,
        [`${prefix}BareWithAttributesStepsPerSec`]: withAttributes.stepsPerSec,
        [`${prefix}W1RatioToBare`]: +(bare.stepsPerSec / results[`${prefix}W1StepsPerSec`]!).toFixed(2),
        [`${prefix}W1RatioToBareWithAttributes`]: +(withAttributes.stepsPerSec / results[`${prefix}W1StepsPerSec`]!).toFixed(2),
        [`${prefix}TemporalCpuSecPer1000Bare`]: temporalPer1000(bare.cpu),
        [`${prefix}TemporalCpuSecPer1000BareWithAttributes`]: temporalPer1000(withAttributes.cpu),
      });
    } finally {
      await target.stop();
    }
  }
  return results;
}
