// The worker: workflows bundled once, activities from the factory with their dependencies.
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { DunningConfig } from './config';

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
/** The SDK's runtime logs at INFO by default (every worker state change); WARN keeps output useful. */
export function installRuntime(level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}

export async function connectWorker(config: DunningConfig, address: string): Promise<NativeConnection> {
  installRuntime();
  return NativeConnection.connect({ address, tls: config.temporal.tls || undefined, apiKey: config.temporal.apiKey });
}

export async function createDunningWorker(opts: {
  connection: NativeConnection;
  config: DunningConfig;
  workflowBundle: WorkflowBundleOption;
  deps: ActivityDeps;
  /** Cached workflow executions (default: the config's); bounded so memory stays flat as plans grow. */
  maxCachedWorkflows?: number;
  identity?: string;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.config.temporal.namespace,
    taskQueue: opts.config.temporal.taskQueues.dunning,
    workflowBundle: opts.workflowBundle,
    activities: createActivities(opts.deps),
    maxCachedWorkflows: opts.maxCachedWorkflows ?? opts.config.temporal.maxCachedWorkflows,
    ...(opts.identity !== undefined && { identity: opts.identity }),
  });
}

/**
 * The mail worker: the same activities on the mail task queue, with a task-queue-wide rate
 * limit (enforced by the server across every worker) so a morning when 10,000 reminders fall
 * due drains at the provider's allowed rate instead of failing.
 */
export async function createMailWorker(opts: {
  connection: NativeConnection;
  config: DunningConfig;
  deps: ActivityDeps;
  identity?: string;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.config.temporal.namespace,
    taskQueue: opts.config.temporal.taskQueues.mail,
    activities: createActivities(opts.deps),
    maxTaskQueueActivitiesPerSecond: opts.config.mail.ratePerSecond,
    ...(opts.identity !== undefined && { identity: opts.identity }),
  });
}
