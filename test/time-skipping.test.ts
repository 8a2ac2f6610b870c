// The Java time-skipping test server, run offline through our launcher: weeks of timers in
// seconds, which is how the journey suites run the standard policy over real calendar days.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { startTimeSkippingStack, type TimeSkippingStack } from './support';

let stack: TimeSkippingStack;
beforeAll(async () => {
  stack = await startTimeSkippingStack('time-skipping');
});
afterAll(async () => {
  await stack?.close();
});

describe('time-skipping test server', () => {
  it('fires a 30-day timer without waiting 30 days', async () => {
    const before = await stack.env.currentTimeMs();
    const result = await stack.env.client.workflow.execute(stackCheckWorkflow, {
      taskQueue: stack.config.temporal.taskQueues.dunning,
      workflowId: `stack-check-${randomUUID()}`,
      args: [{ sleep: '30 days' }],
    });
    const skippedMs = (await stack.env.currentTimeMs()) - before;
    expect(result.migrationsApplied).toBeGreaterThanOrEqual(1);
    expect(skippedMs).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
  });
});
