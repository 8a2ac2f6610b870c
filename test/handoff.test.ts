// A worker runs the first half of several journeys and shuts down; a second worker, which has
// never seen them, replays each one from its history (activities, local-activity markers,
// timers) and carries it through the promise and the payments to the end: the result must be
// the same as on one warm worker.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NativeConnection } from '@temporalio/worker';
import { initiateDunning, recordPromise, reportPayment } from '../client/dunning';
import { planStatus } from '../client/status';
import { setPolicy } from '../db/policies';
import { startWorkers, type EngineWorkers } from '../worker/worker';
import { workflowIdFor } from '../workflows/messages';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startTestStack, type TestStack } from './support';

let stack: TestStack;
let second: { workers: EngineWorkers; connection: NativeConnection };

beforeAll(async () => {
  stack = await startTestStack('handoff');
});
afterAll(async () => {
  await second?.workers.shutdown();
  await second?.connection.close();
  await stack?.close();
});

/** The second worker, on the same task queue, with its own empty cache. */
async function startSecondWorker() {
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const workers = await startWorkers({
    connection,
    config: stack.config,
    db: stack.db.db,
    mailer: stack.mailer,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    identity: 'handoff-second-worker',
    only: 'dunning',
  });
  second = { workers, connection };
}

describe('worker handoff', () => {
  it('finishes journeys begun on a worker that left, replaying them on another', async () => {
    const policy = `handoff-${randomUUID().slice(0, 6)}`;
    await setPolicy(stack.db.db, secondsPolicy(policy, { upcoming_notice: 0, first_reminder: 2, manual_escalation: 4 }, { maxPromises: 2, promiseGrace: 'PT1S' }));
    const ctx = { client: stack.client, db: stack.db.db, config: stack.config };
    const plans = await Promise.all(
      Array.from({ length: 4 }, () => createPlan(stack.db.db, { invoices: [{ amountMinor: 20_000, dueOn: dateOffset(3) }] })),
    );
    await Promise.all(plans.map(({ planId }) => initiateDunning(ctx, { planId, policyName: policy })));
    for (const { planId } of plans) {
      await eventually(async () => {
        const s = await planStatus({ db: stack.db.db }, { planId });
        return s.status === 'escalated' && s.steps.every((x) => x.status === 'completed') ? s : undefined;
      }, `${planId} to escalate`, 60_000);
    }
    await startSecondWorker();
    stack.workers.dunning!.shutdown(); // the first worker leaves; its plans continue on the second
    for (const { planId } of plans) {
      await recordPromise(ctx, { planId, amountMinor: 5_000, dueAt: new Date(Date.now() + 20_000).toISOString() });
      await reportPayment(ctx, { planId, paymentId: `${planId}-p1`, amountMinor: 5_000 });
      await reportPayment(ctx, { planId, paymentId: `${planId}-p2`, amountMinor: 15_000 });
    }
    for (const { planId } of plans) {
      const s = await eventually(async () => {
        const v = await planStatus({ db: stack.db.db }, { planId });
        // notice, reminder, promise confirmation, two receipts (the last goes out after the close)
        return v.status === 'resolved' && v.timeline.filter((e) => e.kind === 'email_sent').length === 5 ? v : undefined;
      }, `${planId} to resolve`, 60_000);
      expect(s.promises).toMatchObject([{ status: 'kept', paidMinor: 5_000 }]);
      expect(s.timeline.filter((e) => e.kind === 'payment')).toHaveLength(2);
    }
    // Every plan really moved: its history has workflow tasks taken by both workers.
    const workersPerPlan = await Promise.all(
      plans.map(async ({ planId }) => {
        const history = await stack.client.workflow.getHandle(workflowIdFor(planId)).fetchHistory();
        return new Set(history.events?.map((e) => e.workflowTaskStartedEventAttributes?.identity).filter(Boolean)).size;
      }),
    );
    expect(workersPerPlan).toEqual(plans.map(() => 2));
  });
});
