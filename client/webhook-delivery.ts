// Starting each enabled endpoint's delivery workflow: when the engine starts, and when an
// endpoint is added or enabled. Starting one that runs already changes nothing.
import type { Client } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import type { Database } from '../db/connection';
import { webhookEndpoints } from '../db/schema';
import type { DunningConfig } from '../worker/config';
import { webhookDeliveryWorkflow, webhookWorkflowId, type WebhookDeliveryInput } from '../workflows/webhook-delivery';

export async function ensureWebhookDelivery(
  client: Client,
  config: Pick<DunningConfig, 'temporal'>,
  input: WebhookDeliveryInput,
): Promise<void> {
  await client.workflow.start(webhookDeliveryWorkflow, {
    workflowId: webhookWorkflowId(input.endpointId),
    taskQueue: config.temporal.taskQueues.dunning,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/** Every enabled endpoint's workflow, running (the engine calls this as it starts). */
export async function ensureAllWebhookDeliveries(client: Client, config: Pick<DunningConfig, 'temporal'>, db: Database): Promise<number> {
  const enabled = await db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(eq(webhookEndpoints.status, 'enabled'));
  for (const { id } of enabled) await ensureWebhookDelivery(client, config, { endpointId: id });
  return enabled.length;
}
