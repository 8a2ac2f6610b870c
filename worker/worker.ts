// The workers: workflows bundled once, activities from the factory with their dependencies,
// wired here and nowhere else (the stack, tests, bench and history recorder all start them so).
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import { systemClock, type Clock } from '../activities/clock';
import type { Mailer } from '../activities/mail';
import { batchesMail } from '../activities/mail-batcher';
import type { Database } from '../db/connection';
import { pollerOptions, StartupError, type DunningConfig } from './config';
import { isPortFree } from './dev-server';
import { mailBatchBuckets, metricNames } from '../workflows/domain/metrics';
import { engineLogger, expectActivitiesOnly, type EngineLogOptions } from './logging';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles workflow code once (webpack, ~seconds); pass the result to every worker you create. */
export async function bundleWorkflows(): Promise<WorkflowBundleOption> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return { code };
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};

let runtimeInstalled = false;

export interface RuntimeOptions extends EngineLogOptions {
  /** Serve the SDK's worker metrics and the engine's dunning_… ones for Prometheus at http://host:port/metrics. */
  metrics?: { host: string; port: number };
}

/**
 * Installs the SDK runtime once per process: the engine's INFO lines come out, the SDK's own
 * stay at WARN. Core's lines are forwarded to the same logger (one format, one stream) and
 * filtered at WARN in core already, so its INFO chatter never crosses into JavaScript. With
 * `metrics`, core serves Prometheus: its own worker metrics (temporal_…: task slots, poll and
 * schedule-to-start latencies, failures) and what workflows and activities count through the
 * SDK's metric meter (dunning_…).
 */
export function installRuntime(opts: RuntimeOptions = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const { metrics, ...logOptions } = opts;
  Runtime.install({
    logger: engineLogger(logOptions),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(metrics && {
        metrics: {
          prometheus: {
            bindAddress: `${metrics.host}:${metrics.port}`,
            useSecondsForDurations: true,
            histogramBucketOverrides: { [metricNames.mailBatchMessages]: mailBatchBuckets },
          },
        },
      }),
    },
    // The process that runs the workers handles signals (client/start.ts stops the workers, then
    // Temporal and PostgreSQL, in order); the SDK's own handlers would race it.
    shutdownSignals: [],
  });
}

export async function connectWorker(config: DunningConfig, address: string): Promise<NativeConnection> {
  // Core would fail to bind a taken port and the process would end without a word: say which.
  if (!runtimeInstalled && !(await isPortFree(config.metrics.port, config.metrics.host))) {
    throw new StartupError(`Port ${config.metrics.port} for the worker's metrics (metrics.port) is in use; stop what holds it or set DUNNING_METRICS_PORT to another port.`);
  }
  installRuntime({ metrics: config.metrics });
  return NativeConnection.connect({ address, tls: config.temporal.tls || undefined, apiKey: config.temporal.apiKey });
}

export interface StartWorkersOptions {
  connection: NativeConnection;
  config: DunningConfig;
  db: Database;
  mailer: Mailer;
  /** Time as activities see it (default: the system clock). */
  clock?: Clock;
  /** Needed by the dunning worker; the mail worker runs activities only. */
  workflowBundle?: WorkflowBundleOption;
  /** Cached workflow executions (default: the config's); bounded so memory stays flat as plans grow. */
  maxCachedWorkflows?: number;
  identity?: string;
  /** One worker only (e.g. a second dunning worker taking over plans); default both. */
  only?: 'dunning' | 'mail';
}

export interface EngineWorkers {
  /** The dunning task queue's worker: workflows and their activities. */
  dunning?: Worker;
  /** The mail task queue's worker: the same activities under the provider's rate limit. */
  mail?: Worker;
  /** Settles when every worker has stopped; rejects as soon as one fails. */
  running: Promise<void>;
  /** Stops the workers still running and waits for all of them; safe to call again. */
  shutdown(): Promise<void>;
}

/**
 * Starts the dunning worker and the mail worker on one connection, with one set of activity
 * dependencies. The provider's rate holds across every worker (the mail queue's server-side
 * limit, and with batching the slots in PostgreSQL), so a morning when 10,000 reminders fall
 * due drains at the provider's allowed rate instead of failing. The caller owns the connection
 * and closes it after shutdown().
 */
export async function startWorkers(opts: StartWorkersOptions): Promise<EngineWorkers> {
  const { connection, config } = opts;
  const activities = createActivities({ db: opts.db, mailer: opts.mailer, clock: opts.clock ?? systemClock, config });
  const common = {
    connection,
    namespace: config.temporal.namespace,
    activities,
    ...pollerOptions(config.temporal.pollers),
    ...(opts.identity !== undefined && { identity: opts.identity }),
  };
  const dunning =
    opts.only === 'mail'
      ? undefined
      : await Worker.create({
          ...common,
          taskQueue: config.temporal.taskQueues.dunning,
          workflowBundle: requireBundle(opts.workflowBundle),
          maxCachedWorkflows: opts.maxCachedWorkflows ?? config.temporal.maxCachedWorkflows,
        });
  if (opts.only !== 'dunning') expectActivitiesOnly(config.temporal.taskQueues.mail);
  const mail = opts.only === 'dunning' ? undefined : await Worker.create({ ...common, taskQueue: config.temporal.taskQueues.mail, ...mailQueueLimits(config.mail, opts.mailer) });
  const workers = [dunning, mail].filter((w): w is Worker => w !== undefined);
  const runs = workers.map((w) => w.run());
  const running = Promise.all(runs).then(() => undefined);
  running.catch(() => {}); // reported to whoever awaits running or shutdown(), never unhandled
  let stopped: Promise<void> | undefined;
  return {
    dunning,
    mail,
    running,
    shutdown() {
      stopped ??= (async () => {
        // A caller may have stopped one already (a handoff test), or it may have failed.
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        const results = await Promise.allSettled(runs);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopped;
    },
  };
}

/**
 * The mail task queue's limits. Sending alone, its activity rate is the provider's request
 * rate. Batching, the provider's rate is held by the batchers' slots in PostgreSQL, and the queue
 * lets batchSize times as many activities through so every request can leave full; each process
 * holds up to three batches' worth (one filling, one waiting for its slot, one in flight).
 */
function mailQueueLimits(mail: DunningConfig['mail'], mailer: Mailer) {
  const batching = batchesMail(mailer, mail);
  return {
    maxTaskQueueActivitiesPerSecond: batching ? mail.ratePerSecond * mail.batchSize : mail.ratePerSecond,
    ...(batching && { maxConcurrentActivityTaskExecutions: Math.max(100, 3 * mail.batchSize) }),
  };
}

function requireBundle(bundle: WorkflowBundleOption | undefined): WorkflowBundleOption {
  if (!bundle) throw new Error('startWorkers: the dunning worker needs a workflowBundle (see bundleWorkflows).');
  return bundle;
}
