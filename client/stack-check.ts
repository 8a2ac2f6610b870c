// Proof that the running stack works end to end: a workflow with a server-side timer, then an
// activity that reads PostgreSQL on a worker.
import { randomUUID } from 'node:crypto';
import type { Duration } from '@temporalio/common';
import { stackCheckWorkflow, type StackCheckResult } from '../workflows/stack-check';
import type { DunningContext } from './context';

export async function checkStack(
  { client, config }: Pick<DunningContext, 'client' | 'config'>,
  input: { sleep: Duration },
): Promise<StackCheckResult & { elapsedMs: number }> {
  const started = Date.now();
  const result = await client.workflow.execute(stackCheckWorkflow, {
    taskQueue: config.temporal.taskQueues.dunning,
    workflowId: `stack-check-${randomUUID()}`,
    args: [{ sleep: input.sleep }],
    staticSummary: 'Stack check: timer, then a database read',
  });
  return { ...result, elapsedMs: Date.now() - started };
}
