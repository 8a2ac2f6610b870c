// The real path: dev server timer → worker → activity → PostgreSQL, and the dev server set up
// the way ops will find it (plans found by the search attributes they write).
import { randomUUID } from 'node:crypto';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initiateDunning } from '../client/dunning';
import { setPolicy } from '../db/policies';
import { workflowIdFor } from '../workflows/messages';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { createPlan, dateOffset, eventually, outboxFor, secondsPolicy } from './fixtures';
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

  it('lets ops find a plan by the status, next step and amount it writes', async () => {
    const policy = secondsPolicy(`attrs-${randomUUID().slice(0, 6)}`, { upcoming_notice: 0, manual_escalation: 8 });
    await setPolicy(stack.db.db, policy);
    const { planId, accountId } = await createPlan(stack.db.db, { invoices: [{ amountMinor: 4_250, dueOn: dateOffset(5) }] });
    await initiateDunning({ client: stack.client, db: stack.db.db, config: stack.config }, { planId, policyName: policy.name });
    const workflowId = workflowIdFor(planId);
    const plan = `WorkflowId = "${workflowId}"`;
    // Visibility is eventually consistent: poll the server's own filter with a deadline.
    const found = (query: string, timeoutMs = 20_000) =>
      eventually(async () => {
        const ids: string[] = [];
        for await (const wf of stack.client.workflow.list({ query: `${plan} AND ${query}` })) ids.push(wf.workflowId);
        return ids.length > 0 ? ids : undefined;
      }, `a plan matching ${query}`, timeoutMs);
    const count = async (query: string) => (await stack.client.workflow.count(`${plan} AND ${query}`)).count;

    // Notice sent, waiting for the escalation step.
    expect(await found(`DunningStatus = "in_progress" AND DunningStep = "manual_escalation" AND AccountId = "${accountId}"`)).toEqual([workflowId]);
    expect(await found('OutstandingAmount = 42.5')).toEqual([workflowId]);
    expect(await count('OutstandingAmount > 42.5')).toBe(0);

    // Then the escalation task: the status moves, the next step is gone.
    expect(await found('DunningStatus = "escalated"')).toEqual([workflowId]);
    expect(await count('DunningStatus = "in_progress"')).toBe(0);
    expect(await count('DunningStep = "manual_escalation"')).toBe(0);
  });

  it('polls with the SDK default unless the config asks for autoscaling, and plans move either way', async () => {
    const pollers = (s: TestStack) => [s.workers.dunning!.options.workflowTaskPollerBehavior.type, s.workers.mail!.options.activityTaskPollerBehavior.type];
    expect(pollers(stack)).toEqual(['simple-maximum', 'simple-maximum']);
    const scaling = await startTestStack('stack-autoscaling', { pollers: 'autoscaling' });
    try {
      expect(pollers(scaling)).toEqual(['autoscaling', 'autoscaling']);
      const policy = secondsPolicy(`pollers-${randomUUID().slice(0, 6)}`, { upcoming_notice: 0, manual_escalation: 3600 });
      await setPolicy(scaling.db.db, policy);
      const { planId } = await createPlan(scaling.db.db, { invoices: [{ amountMinor: 1_000, dueOn: dateOffset(5) }] });
      await initiateDunning({ client: scaling.client, db: scaling.db.db, config: scaling.config }, { planId, policyName: policy.name });
      // Its first step (a workflow task, then an email on the mail queue) goes out through the autoscaling pollers.
      expect(await eventually(async () => (outboxFor(scaling.outboxDir, planId).length > 0 ? outboxFor(scaling.outboxDir, planId) : undefined), 'the upcoming notice in the outbox')).toHaveLength(1);
    } finally {
      await scaling.close();
    }
  });
});
