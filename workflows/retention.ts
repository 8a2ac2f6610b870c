// What the engine keeps, and for how long: a Temporal Schedule (`retention:<task queue>`, made by
// the workers as they start) runs this every hour. Plan events and delivery attempts older than
// webhooks.retentionDays go; the plans, their timelines and endpoints' own timelines stay.
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

type Activities = ReturnType<typeof createActivities>;

export interface RetentionInput {
  /** Plan events and webhook attempts older than this many days are deleted. */
  keepDays: number;
}

const { pruneWebhookHistory } = proxyActivities<Activities>({
  // Deletes in batches and heartbeats after each, so a large first run is not cut short.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes' },
});

export const retentionScheduleId = (taskQueue: string) => `retention:${taskQueue}`;

export async function retentionWorkflow(input: RetentionInput): Promise<{ events: number; attempts: number }> {
  return pruneWebhookHistory({ keepDays: input.keepDays });
}
