// Entry point bundled into Temporal's workflow sandbox: export every workflow type.
export { dunningWorkflow } from './dunning';
export { stackCheckWorkflow } from './stack-check';
export { webhookDeliveryWorkflow } from './webhook-delivery';
export { retentionWorkflow } from './retention';
