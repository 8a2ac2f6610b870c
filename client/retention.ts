// The retention schedule (workflows/retention.ts): made by each worker process as it starts, and
// brought in line with its config when it exists already, so changing webhooks.retentionDays
// takes effect at the next restart. Ops see it, and can trigger it, in the Web UI's Schedules.
import { ScheduleAlreadyRunning, type Client, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { DunningConfig } from '../worker/config';
import { retentionScheduleId, retentionWorkflow } from '../workflows/retention';

export async function ensureRetentionSchedule(client: Client, config: Pick<DunningConfig, 'temporal' | 'webhooks'>): Promise<string> {
  const taskQueue = config.temporal.taskQueues.dunning;
  const scheduleId = retentionScheduleId(taskQueue);
  const action: ScheduleOptionsStartWorkflowAction<typeof retentionWorkflow> = {
    type: 'startWorkflow',
    workflowType: retentionWorkflow,
    args: [{ keepDays: config.webhooks.retentionDays }],
    taskQueue,
    workflowId: scheduleId,
    // A run no worker takes within the hour gives way to the next one.
    workflowRunTimeout: '1 hour',
  };
  try {
    await client.schedule.create({ scheduleId, spec: { intervals: [{ every: '1 hour' }] }, action, policies: { overlap: 'SKIP' } });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, action }));
  }
  return scheduleId;
}
