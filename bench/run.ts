// `npm run bench [-- --quick] [-- --only=initiation,journey,import,cli,http,console,reports,webhooks,scaling] [-- --pollers=autoscaling] [-- --workers=1,2,4] [-- --in-flight=N]`: how fast the
// engine initiates and moves plans, against bare Temporal (same server, a workflow of the same
// shape whose activities do nothing) measured in the same run; how long a `dunning` command
// takes to start, against node doing nothing; the HTTP API against the typed client, and its
// reads over a large portfolio; the rep console's pages rendered over 100,000 open plans; and
// each ops report over 100,000 plans and 1,000,000 timeline events.
// Prints a table and appends the figures to bench/results.jsonl.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { sql } from 'drizzle-orm';
import { createApiKey } from '../client/api-keys';
import { initiateDunning, reportPayment } from '../client/dunning';
import { createApi } from '../client/http/app';
import { serveHttp } from '../client/http/server';
import { importRows } from '../client/import';
import { listPlans, type PlanListFilter, type PlanPage } from '../client/status';
import { SESSION_COOKIE } from '../client/console/routes';
import { worklist, type WorklistFilter } from '../client/worklist';
import { runReport, type ReportFilter } from '../client/reports';
import { forecast } from '../client/forecast';
import { ensureWebhookDelivery } from '../client/webhook-delivery';
import { addWebhook, disableWebhook } from '../client/webhooks';
import { connectDatabase, migrateDatabase } from '../db/connection';
import { startEmbeddedPostgres } from '../db/embedded';
import { setPolicy } from '../db/policies';
import { loadConfig, type DunningConfig } from '../worker/config';
import { freePort, startDevServer } from '../worker/dev-server';
import { resolveTemporalCli } from '../worker/toolchain';
import { mailerFromConfig } from '../worker/mailer';
import { bundleWorkflows, installRuntime, startWorkers } from '../worker/worker';
import { dunningBin } from '../test/engine-process';
import { secondsPolicy } from '../test/fixtures';
import { apiCaller } from './api-caller';
import { commitAt } from './commit';
import { counterDelta, sumCounters } from './prometheus';
import { bareSteps, bareTaskQueue, createBareWorker, runBareJourneys, startBare } from './bare';
import type { BareJourney } from './bare-workflow';
import { explainRead, planOutline } from './explain';
import { cpuByProcess, cpuDelta, printProfile, profileHistories } from './history-profile';
import { until, withConcurrency } from './loops';
import { benchRows, laterDays, laterPolicy } from './rows';
import { seededPlanId, seedPlans, seedReportHistory, seedWorklist } from './seed-plans';
import { scalingFigures } from './scaling';
import { worklistBaseline } from './worklist-baseline';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
// The scaling section's worker processes poll as their config's `temporal.pollers` says.
const pollersArg = process.argv.find((a) => a.startsWith('--pollers='))?.slice('--pollers='.length) ?? 'default';
if (pollersArg !== 'default' && pollersArg !== 'autoscaling') throw new Error(`bench: --pollers must be default or autoscaling, not "${pollersArg}".`);
const pollers: DunningConfig['temporal']['pollers'] = pollersArg;
/** A flag's value as a list of whole numbers, each at least `min`; `fallback` when absent. */
const numbersArg = (flag: string, min: number, fallback: number[]) => {
  const text = process.argv.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);
  if (text === undefined) return fallback;
  const values = text.split(',').map(Number);
  if (!values.every((v) => Number.isInteger(v) && v >= min)) throw new Error(`bench: --${flag} must be whole numbers of at least ${min}, separated by commas, not "${text}".`);
  return values;
};
// The scaling section: how many worker processes in each run, and how many sleeping plans are in flight meanwhile.
const workerCounts = numbersArg('workers', 1, [1, 2, 4]);
const [inFlight] = numbersArg('in-flight', 0, [0]);
const runs = (section: 'initiation' | 'journey' | 'import' | 'cli' | 'http' | 'console' | 'reports' | 'webhooks' | 'scaling') => !only || only.includes(section);
const sizes = quick
  ? {
      initiation: [200, 1_000], journey: 100, importRows: [5_000, 20_000], http: { initiate: 200, rounds: 2, seedPlans: 20_000, reads: 200 },
      console: { seedPlans: 24_400, renders: 100, baselineRuns: 2 },
      reports: { seedPlans: 20_000, runs: 5 },
      webhooks: 500,
      scaling: 200,
    }
  : {
      initiation: [1_000, 10_000], journey: 1_000, importRows: [10_000, 100_000], http: { initiate: 1_000, rounds: 3, seedPlans: 100_000, reads: 500 },
      // seedWorklist leaves 82 % of its plans open, each with an open task: 122,000 → 100,040 on the worklist.
      console: { seedPlans: 122_000, renders: 300, baselineRuns: 5 },
      reports: { seedPlans: 100_000, runs: 10 },
      webhooks: 2_000,
      scaling: 1_000,
    };
const concurrency = 50; // what a billing system's "initiate dunning" batch would use
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const commitAtStart = commitAt(root);
const log = (line: string) => console.log(line);

const dayString = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
/** Adds the CPU seconds each process group used since `before` (a cpuByProcess reading) to `into`. */
const addCpuSince = (before: Record<string, number>, into: Record<string, number>) => {
  for (const [group, sec] of Object.entries(cpuDelta(before, cpuByProcess()))) into[group] = (into[group] ?? 0) + sec;
};
const perPlan = (counters: Record<string, number>, n: number) => Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, +(v / n).toFixed(2)]));
const rssMb = () => Math.round(process.memoryUsage().rss / 1e6);
/** Live JavaScript heap after a full collection (`npm run bench` runs node with --expose-gc). */
const liveHeapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round(process.memoryUsage().heapUsed / 1e6);
};

// Other work on the machine before the bench adds its own (1, 5 and 15 minute averages).
const loadBefore = os.loadavg().map((l) => +l.toFixed(2));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dunning-bench-'));
chmodSync(tmp, 0o755);
// The table is the bench's output: a line per email sent would bury it (and WARN is what the
// worker logged when the earlier figures in results.jsonl were taken).
// Core's Prometheus endpoint: the journey section reads the workers' cache and replay counters.
const sdkMetricsPort = await freePort();
installRuntime({ engineLevel: 'WARN', metrics: { host: '127.0.0.1', port: sdkMetricsPort } });
/** The SDK's counters for one task queue's worker (sticky cache hits and misses, replays, tasks), summed over other labels. */
async function workerCounters(taskQueue: string): Promise<Record<string, number>> {
  return sumCounters(`http://127.0.0.1:${sdkMetricsPort}/metrics`, `task_queue="${taskQueue}"`, {
    cacheHits: /^temporal_sticky_cache_hit(_total)?\{/,
    cacheMisses: /^temporal_sticky_cache_miss(_total)?\{/,
    forcedEvictions: /^temporal_sticky_cache_total_forced_eviction(_total)?\{/,
    workflowTasks: /^temporal_workflow_task_execution_latency(_seconds)?_count\{/,
    replays: /^temporal_workflow_task_replay_latency(_seconds)?_count\{/,
    activities: /^temporal_activity_execution_latency(_seconds)?_count\{/,
    localActivities: /^temporal_local_activity_execution_latency(_seconds)?_count\{/,
  });
}
const cli = await resolveTemporalCli(log);
if (!cli) throw new Error('bench: no Temporal CLI (run `npm run toolchain`).');
const [pgPort, tPort, uiPort] = [await freePort(), await freePort(), await freePort()];
const config = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: tmp, TEMPORAL_ADDRESS: `127.0.0.1:${tPort}`, DATABASE_URL: 'postgres://x@127.0.0.1/x' });
config.mail.ratePerSecond = 10_000; // the engine, not Resend's 2/s, is what is measured
// The embedded stack as `npm start` runs it: durable PostgreSQL, Temporal history in SQLite.
const [pg, server] = await Promise.all([
  startEmbeddedPostgres({ dataDir: tmp, port: pgPort, database: 'bench' }),
  startDevServer({ cliPath: cli.path, dataDir: tmp, ip: '127.0.0.1', port: tPort, uiPort, namespace: 'default', searchAttributes: config.searchAttributes }),
]);
const results: Record<string, number | string> = {};
try {
  await migrateDatabase(pg.url);
  const db = connectDatabase(pg.url, { max: 10 }); // the worker's pool
  const clientDb = connectDatabase(pg.url, { max: 10 }); // the billing system's side, its own pool
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const bundleStarted = Date.now();
  const workflowBundle = await bundleWorkflows();
  results.bundleMs = Date.now() - bundleStarted;
  const workers = await startWorkers({ connection: native, config, db: db.db, mailer: mailerFromConfig(config).mailer, workflowBundle });
  const bareWorker = await createBareWorker(native, { maxCachedWorkflows: config.temporal.maxCachedWorkflows }, log);
  const bareRunning = bareWorker.run();
  const ctx = { client, db: clientDb.db, config };
  let accountSeq = 0;
  const importPlans = async (n: number, prefix: string) => {
    const rows = benchRows(prefix, n, accountSeq);
    accountSeq += n;
    return (await importRows(db.db, rows)).plans.map((p) => p.planId);
  };
  // Plans initiated under 'bench-later' sleep 30 days before their first step: only the
  // initiation (and the journey's first writes) is measured, no email.
  const setLaterPolicy = () => setPolicy(db.db, laterPolicy('bench-later'));
  /** Until each of the n plans imported under `prefix` has begun and waits on its first step. */
  const untilEveryPlanWaits = (prefix: string, n: number) => {
    const waiting = sql`select count(*)::int as n from orchestration_steps where plan_id like ${`plan-${prefix}-%`} and status = 'waiting'`;
    return until(async () => (await db.db.execute<{ n: number }>(waiting))[0]!.n === n, 600_000, 'every initiated plan to wait');
  };

  // --- initiation: plans started from the client, left sleeping until their first step -------
  if (runs('initiation')) {
    await setLaterPolicy();
    const bare: BareJourney = { steps: bareSteps(laterDays, 86_400_000) };
    let inFlight = 0;
    for (const n of sizes.initiation) {
      const planIds = await importPlans(n, `init${n}`);
      const oursFrom = Date.now();
      let t = oursFrom;
      await withConcurrency(planIds, concurrency, (planId) => initiateDunning(ctx, { planId, policyName: 'bench-later' }));
      const ours = n / ((Date.now() - t) / 1000);
      // Started is not begun: a plan begins with its journey's first workflow task (beginPlan).
      const [begun] = await db.db.execute<{ n: number }>(sql`select count(*)::int as n from collection_plans where id like ${`plan-init${n}-%`} and initiated_at is not null`);
      t = Date.now();
      await withConcurrency(planIds, concurrency, (planId) => startBare(client, `bare-init-${planId}`, bare));
      const bareRate = n / ((Date.now() - t) / 1000);
      // Let every plan reach its first timer before reading memory.
      await untilEveryPlanWaits(`init${n}`, n);
      const allWaitingSec = (Date.now() - oursFrom) / 1000;
      inFlight += n;
      Object.assign(results, {
        [`initiation${n}PlansPerSec`]: Math.round(ours),
        [`initiation${n}BarePerSec`]: Math.round(bareRate),
        [`initiation${n}Ratio`]: +(ours / bareRate).toFixed(2),
        [`initiation${n}BegunWhileStarting`]: begun!.n,
        [`initiation${n}AllWaitingSec`]: +allWaitingSec.toFixed(1),
        [`rssMbWith${inFlight}PlansInFlight`]: rssMb(),
        [`liveHeapMbWith${inFlight}PlansInFlight`]: liveHeapMb(),
      });
      log(`initiation ${n}: ${ours.toFixed(0)} plans/s vs ${bareRate.toFixed(0)} bare starts/s; ${begun!.n} begun by the last start, all waiting on their first step ${allWaitingSec.toFixed(0)} s after the first; ${inFlight} plans in flight, ${rssMb()} MB RSS, ${liveHeapMb()} MB live heap`);
    }
  }

  // --- journey: plans through a seconds-long policy, then paid -------------------------------
  if (runs('journey')) {
    const n = sizes.journey;
    const offsets = { upcoming_notice: 0, first_reminder: 5, second_reminder: 10, manual_escalation: 15 };
    const steps = Object.keys(offsets).length;
    await setPolicy(db.db, secondsPolicy('bench-seconds', offsets));
    const planIds = await importPlans(n, 'journey');
    const cpu0 = process.cpuUsage();
    const procCpu0 = cpuByProcess();
    const counters0 = await Promise.all([workerCounters(config.temporal.taskQueues.dunning), workerCounters(config.temporal.taskQueues.mail)]);
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 500);
    const [xact0] = await db.db.execute<{ n: string }>(sql`select sum(xact_commit)::text as n from pg_stat_database`);
    let t = Date.now();
    const calledAt = new Map<string, number>();
    await withConcurrency(planIds, concurrency, (planId) => {
      calledAt.set(planId, Date.now());
      return initiateDunning(ctx, { planId, policyName: 'bench-seconds' });
    });
    const initiatedIn = (Date.now() - t) / 1000;
    const done = sql`select count(*)::int as n from orchestration_steps where plan_id like 'plan-journey-%' and status = 'completed'`;
    await until(async () => (await db.db.execute<{ n: number }>(done))[0]!.n === n * steps, 900_000, 'every journey step');
    const oursElapsed = (Date.now() - t) / 1000;
    await withConcurrency(planIds, concurrency, (planId) => reportPayment(ctx, { planId, paymentId: `${planId}-pay`, amountMinor: 10_000 }));
    const resolved = sql`select count(*)::int as n from collection_plans where id like 'plan-journey-%' and status = 'resolved'`;
    await until(async () => (await db.db.execute<{ n: number }>(resolved))[0]!.n === n, 900_000, 'every plan to resolve');
    const cpu = process.cpuUsage(cpu0);
    const oursCpu = cpuDelta(procCpu0, cpuByProcess());
    const oursCounters = [
      counterDelta(counters0[0], await workerCounters(config.temporal.taskQueues.dunning)),
      counterDelta(counters0[1], await workerCounters(config.temporal.taskQueues.mail)),
    ];
    clearInterval(sampler);
    const [xact1] = await db.db.execute<{ n: string }>(sql`select sum(xact_commit)::text as n from pg_stat_database`);
    const lags = (
      await db.db.execute<{ lag: number }>(
        sql`select extract(epoch from (completed_at - scheduled_for)) * 1000 as lag from orchestration_steps where plan_id like 'plan-journey-%'`,
      )
    ).map((r) => Number(r.lag));
    const [rows] = await db.db.execute<Record<string, number>>(sql`select
        (select count(*) from orchestration_steps where plan_id like 'plan-journey-%')::int as steps,
        (select count(*) from timeline_events where plan_id like 'plan-journey-%')::int as timeline,
        (select count(*) from email_messages where plan_id like 'plan-journey-%')::int as emails,
        (select count(*) from tasks where plan_id like 'plan-journey-%')::int as tasks,
        (select count(*) from payments where plan_id like 'plan-journey-%')::int as payments`);
    const history = (await client.workflow.getHandle(`dunning-${planIds[0]}`).describe()).historyLength;
    // From the client's call to the workflow's first step of work (its initiation time).
    const startDelays = (
      await db.db.execute<{ id: string; at: string }>(sql`select id, initiated_at::text as at from collection_plans where id like 'plan-journey-%'`)
    ).map((r) => Date.parse(r.at) - calledAt.get(r.id)!);

    /** The bare workflow through the same journey, 1,000 at once as ours were; with the journey's search attributes if asked. */
    const runBare = async (prefix: string, attributes: boolean) => {
      const cpu0 = cpuByProcess();
      const counters0 = await workerCounters(bareTaskQueue);
      const ids = planIds.map((id) => `${prefix}-${id}`);
      const { elapsed, lags, startDelays } = await runBareJourneys(client, ids, bareSteps(offsets, 1000), { attributes, concurrency, payment: 'afterSteps' });
      return {
        ids,
        elapsed,
        lags,
        startDelays,
        history: (await client.workflow.getHandle(ids[0]!).describe()).historyLength,
        cpu: cpuDelta(cpu0, cpuByProcess()),
        counters: counterDelta(counters0, await workerCounters(bareTaskQueue)),
      };
    };
    const bareRun = await runBare('bare-journey', false);
    // Last, so that the headline pair (ours, then bare) runs as it always has.
    const attributed = await runBare('bare-attributes', true);
    const { elapsed: bareElapsed, lags: bareLags, startDelays: bareStartDelays, history: bareHistory, cpu: bareCpu, counters: bareCounters, ids: bareIds } = bareRun;
    log(`\nWorker counters during the journey (per plan): ours ${JSON.stringify(perPlan(oursCounters[0]!, n))} + mail ${JSON.stringify(perPlan(oursCounters[1]!, n))}; bare ${JSON.stringify(perPlan(bareCounters, n))}`);

    log(`\nCPU seconds during the journey: ours ${JSON.stringify(oursCpu)}; bare ${JSON.stringify(bareCpu)}; bare with the search attributes ${JSON.stringify(attributed.cpu)}`);
    const sample = (ids: string[]) => ids.filter((_, i) => i % Math.ceil(ids.length / 20) === 0);
    printProfile('Where a journey spends its time (20 plans)', await profileHistories(client, sample(planIds.map((id) => `dunning-${id}`))), log);
    printProfile('The bare workflow (20 runs)', await profileHistories(client, sample(bareIds)), log);
    Object.assign(results, {
      journeyPlans: n,
      journeyStepsPerSec: +((n * steps) / oursElapsed).toFixed(1),
      journeyBareStepsPerSec: +((n * steps) / bareElapsed).toFixed(1),
      journeyRatio: +(oursElapsed / bareElapsed).toFixed(2),
      journeyBareWithAttributesStepsPerSec: +((n * steps) / attributed.elapsed).toFixed(1),
      journeyRatioToBareWithAttributes: +(oursElapsed / attributed.elapsed).toFixed(2),
      journeyInitiationSec: +initiatedIn.toFixed(1),
      startDelayP50Ms: Math.round(percentile(startDelays, 50)),
      startDelayP95Ms: Math.round(percentile(startDelays, 95)),
      bareStartDelayP50Ms: Math.round(percentile(bareStartDelays, 50)),
      bareStartDelayP95Ms: Math.round(percentile(bareStartDelays, 95)),
      bareWithAttributesStartDelayP50Ms: Math.round(percentile(attributed.startDelays, 50)),
      lagP50Ms: Math.round(percentile(lags, 50)),
      lagP95Ms: Math.round(percentile(lags, 95)),
      bareLagP50Ms: Math.round(percentile(bareLags, 50)),
      bareLagP95Ms: Math.round(percentile(bareLags, 95)),
      workerCpuSecPer1000Plans: +(((cpu.user + cpu.system) / 1e6) * (1000 / n)).toFixed(1),
      temporalCpuSecPer1000Plans: +((oursCpu.temporal ?? 0) * (1000 / n)).toFixed(1),
      temporalCpuSecPer1000BarePlans: +((bareCpu.temporal ?? 0) * (1000 / n)).toFixed(1),
      temporalCpuSecPer1000BareWithAttributesPlans: +((attributed.cpu.temporal ?? 0) * (1000 / n)).toFixed(1),
      postgresCpuSecPer1000Plans: +((oursCpu.postgres ?? 0) * (1000 / n)).toFixed(1),
      workerPeakRssMb: Math.round(Math.max(...rss) / 1e6),
      dbTransactionsPerPlan: +((Number(xact1!.n) - Number(xact0!.n)) / n).toFixed(1),
      dbRowsPerPlan: +(Object.values(rows!).reduce((a, b) => a + b, 0) / n + 4).toFixed(1), // + account, contact, invoice, plan
      historyEvents: history ?? 0,
      bareHistoryEvents: bareHistory ?? 0,
      bareWithAttributesHistoryEvents: attributed.history ?? 0,
      cacheMissesPerPlan: +(oursCounters[0]!.cacheMisses! / n).toFixed(2),
      bareCacheMissesPerPlan: +(bareCounters.cacheMisses! / n).toFixed(2),
      replaysPerPlan: +(oursCounters[0]!.replays! / n).toFixed(2),
      bareReplaysPerPlan: +(bareCounters.replays! / n).toFixed(2),
      workflowTasksPerPlan: +(oursCounters[0]!.workflowTasks! / n).toFixed(2),
      bareWorkflowTasksPerPlan: +(bareCounters.workflowTasks! / n).toFixed(2),
    });
  }

  // --- import: `dunning import` of a generated file, in its own process -------------------
  if (runs('import')) {
    for (const size of sizes.importRows) {
      const file = path.join(tmp, `import-${size}.csv`);
      const out = createWriteStream(file);
      out.write('account_id,account_name,contact_name,contact_email,timezone,currency,invoice_number,amount,issued_on,due_on\n');
      for (let i = 0; i < size; i++) {
        const a = `IMP${size}-${Math.floor(i / 5)}`;
        if (!out.write(`${a},Import ${a},C,c@${a.toLowerCase()}.example,Europe/Berlin,EUR,INV-${i},${(i % 900) + 10}.50,2026-10-01,2026-11-15\n`)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      const { elapsedMs, peakRssMb } = await importInChildProcess(file, pg.url);
      Object.assign(results, { [`import${size}RowsPerSec`]: Math.round(size / (elapsedMs / 1000)), [`import${size}PeakRssMb`]: peakRssMb });
      log(`import ${size} rows: ${Math.round(size / (elapsedMs / 1000))} rows/s, peak RSS ${peakRssMb} MB`);
    }
  }

  // --- cli: a command's start, five runs each, alternating with node starting and doing nothing ---
  if (runs('cli')) {
    const env = { ...process.env, DATABASE_URL: pg.url };
    const commands = { node: ['-e', ''], help: [dunningBin, '--help'], status: [dunningBin, 'status', 'no-such-plan', '--json'] };
    spawnSync(process.execPath, commands.help, { cwd: root, env }); // builds the CLI's bundle if a source changed
    const ms: Record<keyof typeof commands, number[]> = { node: [], help: [], status: [] };
    for (let i = 0; i < 5; i++) {
      for (const [name, args] of Object.entries(commands) as Array<[keyof typeof commands, string[]]>) {
        const t = performance.now();
        spawnSync(process.execPath, args, { cwd: root, env, stdio: 'ignore' });
        ms[name].push(performance.now() - t);
      }
    }
    const median = (name: keyof typeof commands) => Math.round(percentile(ms[name], 50));
    Object.assign(results, { cliNodeBaselineMs: median('node'), cliHelpMs: median('help'), cliStatusUnknownPlanMs: median('status') });
    log(`cli: \`dunning --help\` ${median('help')} ms, \`dunning status <unknown plan>\` ${median('status')} ms (one query); \`node -e ""\` ${median('node')} ms (medians of 5)`);
  }

  // --- http: the API on a real socket against the typed client in-process; reads at scale ----
  if (runs('http')) {
    await setLaterPolicy();
    // Served as `dunning api` serves it; the rate limit is not what is measured, so it never refuses.
    const served = await serveHttp(createApi({ ctx, rateLimit: { perSecond: 1e9, burst: 1e9 } }), { host: '127.0.0.1', port: 0 });
    const call = apiCaller(served.url, (await createApiKey(ctx, { name: 'bench billing', role: 'billing' })).key);
    const body = { policy: 'bench-later' };
    const ways = {
      typed: (planId: string) => initiateDunning(ctx, { planId, policyName: body.policy }),
      http: (planId: string) => call('POST', `/v1/plans/${planId}/initiate`, { body }),
      // What a careful billing system sends: the key is claimed before and the answer kept after, two more writes.
      httpIdempotent: (planId: string) => call('POST', `/v1/plans/${planId}/initiate`, { body, headers: { 'idempotency-key': `initiate-${planId}` } }),
    };
    type Way = keyof typeof ways;
    const { initiate: n, rounds } = sizes.http;
    const rates: Record<Way, number[]> = { typed: [], http: [], httpIdempotent: [] };
    const cpuSeconds: Record<Way, Record<string, number>> = { typed: {}, http: {}, httpIdempotent: {} };
    // Each way on fresh plans of its own, 50 callers at a time, the order reversed every other
    // round, and each run starting once the plans before it are asleep: the machine's drift
    // shows as the spread between rounds, not as a difference between ways. CPU is counted until
    // the plans sleep, so it includes the journeys' first writes, the same for every way.
    for (let round = 1; round <= rounds; round++) {
      const order = Object.keys(ways) as Way[];
      if (round % 2 === 0) order.reverse();
      for (const way of order) {
        const prefix = `http-${way}-${round}`;
        const planIds = await importPlans(n, prefix);
        const cpu0 = cpuByProcess();
        const t = performance.now();
        await withConcurrency(planIds, concurrency, ways[way]);
        rates[way].push(n / ((performance.now() - t) / 1000));
        await untilEveryPlanWaits(prefix, n);
        addCpuSince(cpu0, cpuSeconds[way]);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const perRound = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join(' / ');
    const ratios = (way: Way) => rates[way].map((r, i) => r / rates.typed[i]!);
    const cpuPerPlan = (way: Way, group: string) => (((cpuSeconds[way][group] ?? 0) * 1000) / (rounds * n)).toFixed(1);
    const wayLabels: Record<Way, string> = { typed: 'typed client, in-process', http: 'POST /v1/plans/{planId}/initiate', httpIdempotent: 'the same with an Idempotency-Key' };
    log(`\n| initiation, ${n} fresh plans per way and round, ${concurrency} at a time | plans/s, round by round | ratio to the typed client | CPU ms per plan: bench process / Temporal / PostgreSQL |\n|---|---|---|---|`);
    for (const way of Object.keys(ways) as Way[]) {
      log(`| ${wayLabels[way]} | ${perRound(rates[way])} | ${way === 'typed' ? '' : perRound(ratios(way), 2)} | ${['bench (client + workers)', 'temporal', 'postgres'].map((g) => cpuPerPlan(way, g)).join(' / ')} |`);
    }
    Object.assign(results, {
      [`httpInitiation${n}TypedPerSec`]: Math.round(mean(rates.typed)),
      [`httpInitiation${n}HttpPerSec`]: Math.round(mean(rates.http)),
      [`httpInitiation${n}IdempotentPerSec`]: Math.round(mean(rates.httpIdempotent)),
      [`httpInitiation${n}Ratio`]: +(mean(rates.http) / mean(rates.typed)).toFixed(2),
      [`httpInitiation${n}IdempotentRatio`]: +(mean(rates.httpIdempotent) / mean(rates.typed)).toFixed(2),
      [`httpInitiation${n}RatioPerRound`]: perRound(ratios('http'), 2),
      [`httpInitiation${n}BenchCpuMsPerPlan`]: (Object.keys(ways) as Way[]).map((w) => cpuPerPlan(w, 'bench (client + workers)')).join(' / '),
    });

    // Reads over a large portfolio, seeded in bulk (bench/seed-plans.ts).
    const seeded = sizes.http.seedPlans;
    let t = performance.now();
    await seedPlans(db.sql, seeded);
    log(`\nseeded ${seeded} plans in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const query = (filter: PlanListFilter) => {
      const params = new URLSearchParams(Object.entries(filter).map(([k, v]): [string, string] => [k, String(v)]));
      return `/v1/plans${params.size ? `?${params}` : ''}`;
    };
    // The whole list, 200 a time: keyset paging makes the last page cost what the first does.
    const pageMs: number[] = [];
    const cursors: string[] = [];
    t = performance.now();
    for (let cursor: string | null = null; ; ) {
      const page = await call('GET', query({ limit: 200, ...(cursor ? { cursor } : {}) }));
      pageMs.push(page.ms);
      cursor = (page.body as PlanPage).nextCursor;
      if (!cursor) break;
      cursors.push(cursor);
    }
    log(`the whole list, ${pageMs.length} pages of 200: ${((performance.now() - t) / 1000).toFixed(1)} s; per page p50 ${percentile(pageMs, 50).toFixed(1)} ms, p95 ${percentile(pageMs, 95).toFixed(1)} ms, last ${pageMs.at(-1)!.toFixed(1)} ms`);
    const lists: Record<string, { label: string; filter: PlanListFilter }> = {
      listFirstPage: { label: 'GET /v1/plans', filter: {} },
      listStatus: { label: 'GET /v1/plans?status=escalated', filter: { status: 'escalated' } },
      listTaskKind: { label: 'GET /v1/plans?taskKind=manual_escalation (9 % of plans)', filter: { taskKind: 'manual_escalation' } },
      listScarceTaskKind: { label: 'GET /v1/plans?taskKind=promise_broken (1 %)', filter: { taskKind: 'promise_broken' } },
      listRareTaskKind: { label: 'GET /v1/plans?taskKind=opted_out (0.1 %)', filter: { taskKind: 'opted_out' } },
      listDeepPage: { label: 'GET /v1/plans?cursor=… (90 % down the list)', filter: { cursor: cursors[Math.floor(cursors.length * 0.9)]! } },
    };
    log('\nWhat PostgreSQL does for each list query (EXPLAIN ANALYZE: top node, scans of plans and tasks, time)');
    for (const { label, filter } of Object.values(lists)) {
      const [plan] = await explainRead(db.db, (readCtx) => listPlans(readCtx, filter));
      log(`${label}\n${planOutline(plan!, ['collection_plans', 'tasks']).map((line) => `    ${line}`).join('\n')}`);
    }
    const reads: Record<string, { label: string; path: () => string }> = {
      planView: { label: 'GET /v1/plans/{planId} (a random plan)', path: () => `/v1/plans/${seededPlanId(1 + Math.floor(Math.random() * seeded))}` },
      ...Object.fromEntries(Object.entries(lists).map(([key, { label, filter }]) => [key, { label, path: () => query(filter) }])),
    };
    // With 10 callers on two cores a request mostly waits for CPU, so the CPU each costs (this
    // process: fetch client, server, handler; and PostgreSQL) says what the latency is made of.
    log(`\n| read, ${sizes.http.reads} requests over HTTP | 1 at a time p50 / p95 ms | 10 at a time p50 / p95 ms | CPU ms per request: bench process / PostgreSQL |\n|---|---|---|---|`);
    for (const [key, read] of Object.entries(reads)) {
      const cells: string[] = [];
      const cpu: Record<string, number> = {};
      for (const callers of [1, 10]) {
        await withConcurrency(Array.from({ length: 20 }), callers, () => call('GET', read.path())); // warm the connections and the JIT
        const ms: number[] = [];
        const cpu0 = cpuByProcess();
        await withConcurrency(Array.from({ length: sizes.http.reads }), callers, async () => ms.push((await call('GET', read.path())).ms));
        addCpuSince(cpu0, cpu);
        const [p50, p95] = [percentile(ms, 50), percentile(ms, 95)];
        cells.push(`${p50.toFixed(1)} / ${p95.toFixed(1)}`);
        Object.assign(results, { [`${key}C${callers}P50Ms`]: +p50.toFixed(1), [`${key}C${callers}P95Ms`]: +p95.toFixed(1) });
      }
      const cpuPerRequest = ['bench (client + workers)', 'postgres'].map((group) => (((cpu[group] ?? 0) * 1000) / (2 * sizes.http.reads)).toFixed(1)).join(' / ');
      results[`${key}CpuMsPerRequest`] = cpuPerRequest;
      log(`| ${read.label} | ${cells.join(' | ')} | ${cpuPerRequest} |`);
    }
    results.httpSeededPlans = seeded;
    await served.close();
  }

  // --- console: the rep console's pages as the server renders them, over 100,000 open plans ---
  if (runs('console')) {
    const { seedPlans: n, renders, baselineRuns } = sizes.console;
    let t = performance.now();
    await seedWorklist(db.sql, n);
    const [{ open } = { open: 0 }] = await db.db.execute<{ open: number }>(sql`select count(*)::int as open from worklist_entries`);
    log(`\nseeded ${n} plans, ${open} of them open with an open task, in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // The plan page's plan: an escalated one, with a timeline of 200 events.
    const timelinePlan = seededPlanId(66);
    await db.sql`insert into timeline_events (plan_id, event_key, seq, at, kind, summary)
      select ${timelinePlan}, 'bench:' || g, g, now() - (200 - g) * interval '1 hour', 'email_sent', 'Bench event ' || g
      from generate_series((select coalesce(max(seq), 0) + 1 from timeline_events where plan_id = ${timelinePlan}), 200) g`;
    // The app `dunning api` serves, called in-process: the time is the server's (session and key
    // lookup, the queries, the page's JSX), not a client's or the network's.
    const app = createApi({ ctx, rateLimit: { perSecond: 1e9, burst: 1e9 } });
    const repKey = await createApiKey(ctx, { name: 'bench rep', role: 'rep' });
    const signIn = await app.request('/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: repKey.key, timeZone: 'Europe/Berlin' }).toString(),
    });
    const cookie = new RegExp(`^${SESSION_COOKIE}=[^;]+`).exec(signIn.headers.get('set-cookie') ?? '')?.[0];
    if (!cookie) throw new Error(`bench: the console sign-in answered ${signIn.status} without a session cookie`);
    const render = async (path: string) => {
      const started = performance.now();
      const res = await app.request(path, { headers: { cookie } });
      const html = await res.text();
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`bench: GET ${path} answered ${res.status}: ${html.slice(0, 300)}`);
      return { ms, html };
    };
    const searchFor = 'Seeded account 4711'; // 4711 and 47110–47119
    const pages: Record<string, { label: string; path: string; filter?: WorklistFilter }> = {
      consoleFirstPage: { label: 'GET / (worklist, first page)', path: '/', filter: {} },
      consoleKind: { label: 'GET /?taskKind=rep_escalation (22 % of the worklist)', path: '/?taskKind=rep_escalation', filter: { taskKind: 'rep_escalation' } },
      consoleCurrency: { label: 'GET /?currency=USD (10 %)', path: '/?currency=USD', filter: { currency: 'USD' } },
      consoleSearch: { label: `GET /?search=${searchFor}`, path: `/?search=${encodeURIComponent(searchFor)}`, filter: { search: searchFor } },
      consolePlanPage: { label: 'GET /plans/{id} (200 timeline events)', path: `/plans/${timelinePlan}` },
    };
    log('\nWhat PostgreSQL does for each worklist query (EXPLAIN ANALYZE: top node, scans of worklist_entries, time; the page and the counts run at once, their order may vary)');
    for (const { label, filter } of Object.values(pages)) {
      if (!filter) continue;
      const plans = await explainRead(db.db, (readCtx) => worklist(readCtx, filter), { answer: true });
      log(`${label}\n${plans.map((plan) => planOutline(plan, ['worklist_entries']).map((line) => `    ${line}`).join('\n')).join('\n    --\n')}`);
    }
    log(`\n| page, ${renders} renders one at a time | p50 / p95 ms | worklist rows, page KB | CPU ms per render: bench process / PostgreSQL | the old worklist query alone, p50 ms (${baselineRuns} runs) |\n|---|---|---|---|---|`);
    const loadAtStart = os.loadavg()[0]!.toFixed(1);
    for (const [key, page] of Object.entries(pages)) {
      for (let i = 0; i < 10; i++) await render(page.path); // warm the connections and the JIT
      const ms: number[] = [];
      const cpu: Record<string, number> = {};
      const cpu0 = cpuByProcess();
      let rows = '';
      for (let i = 0; i < renders; i++) {
        const r = await render(page.path);
        ms.push(r.ms);
        rows = `${(r.html.match(/<tr data-plan=/g) ?? []).length}, ${(Buffer.byteLength(r.html) / 1024).toFixed(0)}`;
      }
      addCpuSince(cpu0, cpu);
      const [p50, p95] = [percentile(ms, 50), percentile(ms, 95)];
      const cpuPerRender = ['bench (client + workers)', 'postgres'].map((group) => (((cpu[group] ?? 0) * 1000) / renders).toFixed(1)).join(' / ');
      let baseline = '';
      if (page.filter) {
        const old: number[] = [];
        for (let i = 0; i < baselineRuns; i++) {
          const started = performance.now();
          await worklistBaseline(ctx, page.filter);
          old.push(performance.now() - started);
        }
        baseline = percentile(old, 50).toFixed(0);
        results[`${key}BaselineP50Ms`] = +baseline;
      }
      Object.assign(results, { [`${key}P50Ms`]: +p50.toFixed(1), [`${key}P95Ms`]: +p95.toFixed(1), [`${key}CpuMsPerRender`]: cpuPerRender });
      log(`| ${page.label} | ${p50.toFixed(1)} / ${p95.toFixed(1)} | ${rows} | ${cpuPerRender} | ${baseline} |`);
    }
    log(`(load average ${loadAtStart} at the first page, ${os.loadavg()[0]!.toFixed(1)} at the end)`);
    Object.assign(results, { consoleSeededPlans: n, consoleOpenPlans: open });
  }

  // --- reports: each ops report over 100,000 plans and 1,000,000 timeline events ---
  if (runs('reports')) {
    const { seedPlans: n, runs: reportRuns } = sizes.reports;
    const t = performance.now();
    // The console section's portfolio serves when it ran (it is seedPlans' and more); otherwise seed one.
    const [{ seeded } = { seeded: 0 }] = await db.db.execute<{ seeded: number }>(sql`select count(*)::int as seeded from collection_plans where id like 'plan-SEED-%'`);
    if (seeded === 0) await seedPlans(db.sql, n);
    await seedReportHistory(db.sql);
    const [counts] = await db.db.execute<{ plans: number; events: number; payments: number; promises: number }>(sql`select
      (select count(*)::int from collection_plans) as plans, (select count(*)::int from timeline_events) as events,
      (select count(*)::int from payments) as payments, (select count(*)::int from payment_promises) as promises`);
    log(`
reports over ${counts!.plans} plans, ${counts!.events} timeline events, ${counts!.payments} payments, ${counts!.promises} promises (seeded in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
    // Reading every timeline event once, in the same run: what a report built on the timeline would pay at least.
    const scan: number[] = [];
    for (let k = 0; k < 3; k++) {
      const started = performance.now();
      await db.db.execute(sql`select count(*), max(at) from timeline_events`);
      scan.push(performance.now() - started);
    }
    const scanMs = percentile(scan, 50);
    const reads: Array<{ key: string; label: string; name: string; filter: ReportFilter }> = [
      { key: 'aging', label: 'aging', name: 'aging', filter: {} },
      { key: 'promises', label: 'promises', name: 'promises', filter: {} },
      { key: 'recovery', label: 'recovery', name: 'recovery', filter: {} },
      { key: 'recoveryQuarter', label: 'recovery, one quarter', name: 'recovery', filter: { from: dayString(-180), to: dayString(-90) } },
      { key: 'steps', label: 'steps', name: 'steps', filter: {} },
      { key: 'stepsQuarter', label: 'steps, one quarter', name: 'steps', filter: { from: dayString(-180), to: dayString(-90) } },
    ];
    log(`
| report, ${reportRuns} runs one at a time | p50 / max ms | rows | ÷ one read of the timeline (${scanMs.toFixed(0)} ms) |
|---|---|---|---|`);
    for (const { key, label, name, filter } of reads) {
      await runReport(ctx, { name, ...filter }); // warm the connection and the caches
      const ms: number[] = [];
      let rows = 0;
      for (let k = 0; k < reportRuns; k++) {
        const started = performance.now();
        rows = (await runReport(ctx, { name, ...filter })).rows.length;
        ms.push(performance.now() - started);
      }
      const [p50, max] = [percentile(ms, 50), Math.max(...ms)];
      Object.assign(results, { [`report_${key}P50Ms`]: +p50.toFixed(1), [`report_${key}MaxMs`]: +max.toFixed(1) });
      log(`| ${label} | ${p50.toFixed(0)} / ${max.toFixed(0)} | ${rows} | ${(p50 / scanMs).toFixed(2)} |`);
    }
    // The forecast: 30 and 90 days ahead, as `dunning forecast` reads it at the configured mail rate.
    for (const days of [30, 90]) {
      const read = () => forecast(ctx, { days, ratePerSecond: 2 });
      const first = await read();
      const ms: number[] = [];
      for (let k = 0; k < reportRuns; k++) {
        const started = performance.now();
        await read();
        ms.push(performance.now() - started);
      }
      const [p50, max] = [percentile(ms, 50), Math.max(...ms)];
      Object.assign(results, { [`forecast${days}dP50Ms`]: +p50.toFixed(1), [`forecast${days}dMaxMs`]: +max.toFixed(1) });
      log(`| forecast, ${days} days (${first.totals.emails} emails, ${first.totals.tasks} tasks) | ${p50.toFixed(0)} / ${max.toFixed(0)} | ${first.days.length} | ${(p50 / scanMs).toFixed(2)} |`);
    }
    Object.assign(results, { reportPlans: counts!.plans, reportTimelineEvents: counts!.events, reportTimelineScanMs: +scanMs.toFixed(1) });
  }

  // --- webhooks: plan events delivered to a local receiver, against the same posts made plainly ---
  if (runs('webhooks')) {
    const n = sizes.webhooks;
    let received = 0;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const [{ seeded } = { seeded: 0 }] = await db.db.execute<{ seeded: number }>(sql`select count(*)::int as seeded from collection_plans where id like 'plan-SEED-%'`);
    if (seeded < 100) await seedPlans(db.sql, 1_000);
    // Then the endpoint: an event is owed to the endpoints there when it is recorded.
    const endpoint = await addWebhook({ db: clientDb.db, config }, { url, events: 'all' });
    // n timeline entries on 100 plans, as escalations: the trigger records each as an event.
    await clientDb.sql`insert into timeline_events (plan_id, event_key, seq, at, kind, summary)
      select p.id, 'bench-webhook:' || g, 100000 + g, now(), 'escalated', 'Escalated by the bench'
      from (select id from collection_plans where id like 'plan-SEED-%' order by id limit 100) p cross join generate_series(1, ${n / 100}) g`;
    const bodies = await clientDb.sql<Array<{ body: unknown }>>`select e.body from webhook_deliveries d join plan_events e on e.position = d.event_position
      where d.endpoint_id = ${endpoint.id} order by d.event_position`;
    // The same bodies posted plainly, one after another, as one endpoint's deliveries go.
    let started = performance.now();
    for (const { body } of bodies) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await response.body?.cancel();
    }
    const plainMs = performance.now() - started;
    received = 0;
    started = performance.now();
    await ensureWebhookDelivery(client, config, { endpointId: endpoint.id });
    await until(async () => received >= bodies.length, 600_000, 'every event to be delivered');
    const deliveredMs = performance.now() - started;
    const [{ pending } = { pending: -1 }] = await db.db.execute<{ pending: number }>(sql`select count(*)::int as pending from webhook_deliveries where endpoint_id = ${endpoint.id} and status = 'pending'`);
    await disableWebhook({ db: clientDb.db }, { id: endpoint.id, by: 'bench' });
    receiver.close();
    const perSec = (ms: number) => +(bodies.length / (ms / 1000)).toFixed(1);
    Object.assign(results, {
      webhookEvents: bodies.length,
      webhookEventsPerSec: perSec(deliveredMs),
      webhookPlainPostsPerSec: perSec(plainMs),
      webhookRatio: +(deliveredMs / plainMs).toFixed(2),
      webhookPendingAfter: pending,
    });
    log(`
webhooks: ${bodies.length} events to a local receiver, one endpoint
| | events/s | ÷ plain posts |
|---|---|---|
| plain HTTP posts of the same bodies, one after another | ${perSec(plainMs)} | 1.00 |
| delivered by the engine (signed, each attempt logged, each delivery marked) | ${perSec(deliveredMs)} | ${(deliveredMs / plainMs).toFixed(2)} |`);
  }

  bareWorker.shutdown();
  await Promise.all([workers.shutdown(), bareRunning]);
  await native.close();
  await connection.close();
  await db.close();
  await clientDb.close();

  // --- scaling: the journey with 1, 2 and 4 worker processes, cluster and dev server --------
  // After this process's own workers have stopped: only the measured processes run.
  if (runs('scaling')) {
    const scaling = await scalingFigures({ n: sizes.scaling, workerCounts, inFlight: inFlight!, tmp, cliPath: cli.path, pollers, log });
    Object.assign(results, scaling, { scalingPollers: pollers, scalingPlansInFlight: inFlight! });
    const row = (name: string, label: string) =>
      `| ${label} | ${workerCounts.map((k) => `${scaling[`scaling${name}W${k}StepsPerSec`]} (${scaling[`scaling${name}W${k}CoresTemporal`]} / ${scaling[`scaling${name}W${k}CoresPostgres`]} / ${scaling[`scaling${name}W${k}CoresWorkers`]})`).join(' | ')} |`;
    const bareRow = (name: string, label: string) =>
      `| ${label} | ${scaling[`scaling${name}W1StepsPerSec`]} / ${scaling[`scaling${name}BareStepsPerSec`]} / ${scaling[`scaling${name}BareWithAttributesStepsPerSec`]} | ${scaling[`scaling${name}W1RatioToBare`]} | ${scaling[`scaling${name}W1RatioToBareWithAttributes`]} |`;
    log(`
scaling: ${sizes.scaling} journeys, ${pollers} pollers, ${inFlight} other plans in flight, steps/s (cores busy: Temporal / PostgreSQL / workers)
| | ${workerCounts.map((k) => `${k} worker process${k === 1 ? '' : 'es'}`).join(' | ')} |
|---|${workerCounts.map(() => '---|').join('')}
${row('Cluster', 'cluster (4 service processes, PostgreSQL)')}
${row('DevServer', 'dev server (SQLite)')}`);
    if (workerCounts.includes(1)) {
      log(`
one worker process against bare Temporal on the same server, steps/s
| | engine / bare / bare with the search attributes | ratio to bare | ratio to bare with the attributes |
|---|---|---|---|
${bareRow('Cluster', 'cluster')}
${bareRow('DevServer', 'dev server')}`);
    }
  }
} finally {
  await server.stop();
  await pg.stop();
  rmSync(tmp, { recursive: true, force: true });
}

/** Runs `dunning import FILE --json` as a user would; its time and its peak memory (VmHWM). */
async function importInChildProcess(file: string, databaseUrl: string): Promise<{ elapsedMs: number; peakRssMb: number }> {
  const child = spawn(process.execPath, [dunningBin, 'import', file, '--json'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  let peakKb = 0;
  const sampler = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // exited
    }
  }, 25);
  const [code] = (await once(child, 'exit')) as [number];
  clearInterval(sampler);
  if (code !== 0) throw new Error(`bench: dunning import exited with ${code}`);
  return { elapsedMs: (JSON.parse(stdout) as { elapsedMs: number }).elapsedMs, peakRssMb: Math.round(peakKb / 1024) };
}

const record = {
  at: new Date().toISOString(),
  commit: commitAtStart,
  quick,
  only,
  machine: { cores: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), cpu: os.cpus()[0]?.model ?? 'unknown', loadBefore },
  versions: {
    node: process.version,
    temporalCli: execFileSync(cli.path, ['--version'], { encoding: 'utf8' }).trim(),
    sdk: JSON.parse(readFileSync(path.join(root, 'node_modules/@temporalio/worker/package.json'), 'utf8')).version as string,
  },
  results,
};
appendFileSync(path.join(here, 'results.jsonl'), `${JSON.stringify(record)}\n`);
console.log('\n| measure | value |\n|---|---|');
for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${v} |`);
console.log(`\n${record.machine.cores} cores, ${record.machine.memoryGb} GiB, load ${loadBefore.join(' / ')} before the run, ${record.versions.temporalCli}, SDK ${record.versions.sdk}, commit ${record.commit}; appended to bench/results.jsonl`);
