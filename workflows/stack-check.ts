// A small workflow that proves the path end to end: a durable timer on the server, then an
// activity on the worker that reads PostgreSQL. `dunning start --check` and the tests run it.
import type { Duration } from '@temporalio/common';
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { createActivities } from '../activities';

const { checkDatabase } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
});

export interface StackCheckInput {
  /** How long to sleep on a server-side timer before touching the database. */
  sleep: Duration;
}

export interface StackCheckResult {
  migrationsApplied: number;
  databaseTime: string;
}

export async function stackCheckWorkflow(input: StackCheckInput): Promise<StackCheckResult> {
  await sleep(input.sleep, { summary: `stack check: sleep ${String(input.sleep)}` });
  return checkDatabase({});
}
