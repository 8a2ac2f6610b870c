// The activity factory the worker registers and the workflows type their proxies against.
import type { ActivityDeps } from './deps';
import { createPlanActivities } from './plans';
import { createRetentionActivities } from './retention';
import { createStackActivities } from './stack';
import { createStepEmailActivities } from './step-email';
import { createWebhookDeliveryActivities } from './webhook-delivery';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createStackActivities(deps),
    ...createPlanActivities(deps),
    ...createStepEmailActivities(deps),
    ...createWebhookDeliveryActivities(deps),
    ...createRetentionActivities(deps),
  };
}
