// The real path: dev server timer → worker → activity → PostgreSQL, and the dev server set up
// the way ops will find it (search attributes registered).
import { randomUUID } from 'node:crypto';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { searchAttributeTypes } from '../workflows/search-attributes';
import { startTestStack, type TestStack } from './support';

const { EventType } = proto.temporal.api.enums.v1;

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('stack');
});
afterAll(async () => {
  await stack?.close();
});

describe('the embedded stack', () => {
  it('runs a workflow through a server timer and a database-reading activity', async () => {
    const handle = await stack.client.workflow.start(stackCheckWorkflow, {
      taskQueue: stack.config.temporal.taskQueues.dunning,
      workflowId: `stack-check-${randomUUID()}`,
      args: [{ sleep: '1s' }],
    });
    const result = await handle.result();
    expect(result.migrationsApplied).toBeGreaterThanOrEqual(1);
    expect(Number.isNaN(Date.parse(result.databaseTime))).toBe(false);
    const history = await handle.fetchHistory();
    const kinds = history.events!.map((e) => e.eventType);
    expect(kinds).toContain(EventType.EVENT_TYPE_TIMER_FIRED);
    expect(kinds).toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  });

  it('registers the custom search attributes ops filter on', async () => {
    const { customAttributes } = await stack.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of Object.keys(searchAttributeTypes)) expect(Object.keys(customAttributes ?? {})).toContain(name);
  });
});
