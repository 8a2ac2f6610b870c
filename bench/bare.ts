// The yardstick's client and worker side: the bare workflow (bare-workflow.ts) bundled on its
// own, a worker for it (in the bench's process, or its own: bare-worker.ts), and n runs of it
// through a journey's steps.
import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { bundleWorkflowCode, type NativeConnection, Worker } from '@temporalio/worker';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollerOptions } from '../worker/config';
import { AccountId, DunningStatus, OutstandingAmount } from '../workflows/search-attributes';
import { until, withConcurrency } from './loops';
import { barePaymentSignal, bareJourneyWorkflow, lastStepWrite, type BareJourney } from './bare-workflow';

const here = path.dirname(fileURLToPath(import.meta.url));
export const bareTaskQueue = 'bench-bare';
/** Runs whose steps are done, by workflow id, as this process's bare worker saw their last write. */
const stepsDone = new Set<string>();

/** A worker for the bare workflow on `connection`; not the engine's wiring, so not started through it. */
export async function createBareWorker(
  connection: NativeConnection,
  opts: { maxCachedWorkflows: number; pollers?: 'default' | 'autoscaling' },
  log: (line: string) => void,
): Promise<Worker> {
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(here, 'bare-workflow.ts'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: log } });
  return Worker.create({
    connection,
    taskQueue: bareTaskQueue,
    workflowBundle: { code: bundle.code },
    activities: {
      noop: async ({ n }: { n: number }) => {
        const run = activityInfo().workflowExecution?.workflowId;
        if (n === lastStepWrite && run) stepsDone.add(run);
        return n;
      },
    },
    maxCachedWorkflows: opts.maxCachedWorkflows,
    // As the engine's workers poll for the same config value.
    ...pollerOptions(opts.pollers ?? 'default'),
  });
}

/** The journey's steps (key → time after the start, in `unitMs`) as the bare workflow takes them: the escalation opens a task, the rest send an email. */
export const bareSteps = (offsets: Record<string, number>, unitMs: number): BareJourney['steps'] =>
  Object.entries(offsets).map(([key, at]) => ({ key, offsetMs: at * unitMs, email: key !== 'manual_escalation' }));

/** Starts a bare run; one with the journey's search attributes starts with three of them, as initiation starts a plan. */
export const startBare = (client: Client, workflowId: string, journey: BareJourney) =>
  client.workflow.start(bareJourneyWorkflow, {
    taskQueue: bareTaskQueue,
    workflowId,
    args: [journey],
    ...(journey.attributes && {
      typedSearchAttributes: new TypedSearchAttributes([
        { key: AccountId, value: journey.attributes.accountId },
        { key: DunningStatus, value: 'in_progress' },
        { key: OutstandingAmount, value: journey.attributes.outstandingAmount },
      ]),
    }),
  });

/**
 * One bare run per id through `steps`, started `concurrency` at a time as a billing system
 * initiates plans, with the journey's search attributes if asked. `payment`: `afterSteps` pays
 * each run once every run's steps are done, as the journey section pays its plans (the bare
 * worker must run in this process, which sees the runs' last writes); `none` ends each run after
 * its last step, for journeys nobody pays. Seconds from the first start to the last step, each
 * step's lag behind its time, and each run's delay from the client's call to its first task.
 */
export async function runBareJourneys(client: Client, ids: string[], steps: BareJourney['steps'], opts: { attributes: boolean; concurrency: number; payment: 'afterSteps' | 'none' }) {
  const from = Date.now();
  const runs: Array<{ calledAt: number; result: Promise<{ startedAt: number; lags: number[]; lastStepAt: number }> }> = [];
  await withConcurrency(ids, opts.concurrency, async (workflowId) => {
    const calledAt = Date.now();
    const h = await startBare(client, workflowId, {
      steps,
      ...(opts.attributes && { attributes: { accountId: workflowId, outstandingAmount: 100 } }),
      ...(opts.payment === 'none' && { unpaid: true }),
    });
    runs.push({ calledAt, result: h.result() });
  });
  if (opts.payment === 'afterSteps') {
    await until(async () => ids.every((id) => stepsDone.has(id)), 900_000, `the steps of all ${ids.length} bare runs`);
    await withConcurrency(ids, opts.concurrency, (id) => client.workflow.getHandle(id).signal(barePaymentSignal, { amountMinor: 10_000 }));
  }
  const results = await Promise.all(runs.map((r) => r.result));
  return {
    elapsed: (Math.max(...results.map((r) => r.lastStepAt)) - from) / 1000,
    lags: results.flatMap((r) => r.lags),
    startDelays: results.map((r, i) => r.startedAt - runs[i]!.calledAt),
  };
}
