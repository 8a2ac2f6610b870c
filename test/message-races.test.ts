// Messages that reach a plan in the same workflow task, on the real dev server. The updates are
// admitted while no worker polls, so the first workflow task carries them all at once: what a
// rep then sees (task ids, promise ids, refusals) must be as if they had come one by one.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Client, Connection, WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandle, type WorkflowUpdateHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { UpdateDefinition } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { createOutboxMailer } from '../activities/mail';
import { initiateDunning, type DunningContext } from '../client/dunning';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { paymentPromises, tasks } from '../db/schema';
import { installRuntime, startWorkers as startEngineWorkers, type EngineWorkers } from '../worker/worker';
import type { DunningConfig } from '../worker/config';
import { failureTypes } from '../workflows/domain/failures';
import { escalateUpdate, paymentReceivedSignal, recordPromiseUpdate, stateQuery, workflowIdFor } from '../workflows/messages';
import { createPlan, dateOffset, eventually } from './fixtures';
import { testConfig } from './support';

let config: DunningConfig;
let db: DatabaseHandle;
let connection: Connection;
let client: Client;
let ctx: DunningContext;
let workers: { native: NativeConnection; engine: EngineWorkers } | undefined;

beforeAll(async () => {
  installRuntime({ engineLevel: 'WARN' });
  config = testConfig('races');
  db = connectDatabase(inject('databaseUrl'), { max: 4 });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: config.temporal.namespace });
  ctx = { client, db: db.db, config };
});
afterAll(async () => {
  await stopWorkers();
  await connection?.close();
  await db?.close();
});

/** Starts polling only now: everything admitted so far lands in one workflow task. */
async function startWorkers() {
  const native = await NativeConnection.connect({ address: inject('temporalAddress') });
  const mailer = createOutboxMailer(`${config.dataDir}/outbox`);
  const engine = await startEngineWorkers({ connection: native, config, db: db.db, mailer, workflowBundle: { codePath: inject('workflowBundlePath') } });
  workers = { native, engine };
}
async function stopWorkers() {
  if (!workers) return;
  await workers.engine.shutdown();
  await workers.native.close();
  workers = undefined;
}

const { UpdateWorkflowExecutionLifecycleStage: Stage } = proto.temporal.api.enums.v1;

/**
 * Sends an update and returns once the server has admitted it. The client waits at least for
 * ACCEPTED, which needs a worker (none polls yet, on purpose), so admission is polled for.
 */
async function admitUpdate<Ret, Arg>(handle: WorkflowHandle, def: UpdateDefinition<Ret, [Arg]>, arg: Arg): Promise<WorkflowUpdateHandle<Ret>> {
  const updateId = randomUUID();
  // Its outcome is read through the update handle below.
  handle.startUpdate(def, { args: [arg], updateId, waitForStage: WorkflowUpdateStage.ACCEPTED }).catch(() => undefined);
  await eventually(async () => {
    const polled = await client.workflowService.pollWorkflowExecutionUpdate({
      namespace: config.temporal.namespace,
      updateRef: { workflowExecution: { workflowId: handle.workflowId }, updateId },
      identity: 'message-races',
      waitPolicy: { lifecycleStage: Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED },
    });
    return (polled.stage ?? 0) >= Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED ? true : undefined;
  }, 'the update to be admitted');
  return handle.getUpdateHandle<Ret>(updateId);
}

/** The outcomes of updates, or a failure naming what hung (a plan wedged by a duplicate id never answers). */
async function settled<T>(updates: Array<WorkflowUpdateHandle<T>>): Promise<Array<PromiseSettledResult<T>>> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the updates got no answer within 30 s: the plan is stuck')), 30_000);
  });
  try {
    return await Promise.race([Promise.allSettled(updates.map((u) => u.result())), hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends the plan whatever state a failed assertion left it in, then the workers. */
async function cleanUp(handle: WorkflowHandle) {
  await handle.terminate('test done').catch(() => undefined);
  await stopWorkers();
}

/** A plan initiated while no worker polls (its first workflow task waits for one). */
async function unpolledPlan(owedMinor: number) {
  const { planId } = await createPlan(db.db, { invoices: [{ amountMinor: owedMinor, dueOn: dateOffset(30) }] });
  await initiateDunning(ctx, { planId });
  return { planId, handle: client.workflow.getHandle(workflowIdFor(planId)) };
}

describe('messages admitted in the same workflow task', () => {
  it('gives every rep escalation its own task, even with a payment queued ahead of it', async () => {
    const { planId, handle } = await unpolledPlan(50_000);
    await handle.signal(paymentReceivedSignal, { paymentId: `pay-${planId}`, amountMinor: 1_000 });
    const first = await admitUpdate(handle, escalateUpdate, { reason: 'customer asked for a call' });
    await startWorkers();
    try {
      const [answer] = await settled([first]);
      if (answer!.status === 'rejected') throw answer!.reason;
      const one = answer!.value;
      const two = await handle.executeUpdate(escalateUpdate, { args: [{ reason: 'customer called back, wants a second call' }] });
      expect(two.taskId).not.toBe(one.taskId);

      const state = await handle.query(stateQuery);
      const open = state.tasks.filter((t) => t.kind === 'rep_escalation' && t.status === 'open');
      expect(open.map((t) => t.id).sort()).toEqual([one.taskId, two.taskId].sort());
      expect(open.map((t) => t.reason).sort()).toEqual(['customer asked for a call', 'customer called back, wants a second call']);
      const rows = await eventually(async () => {
        const r = await db.db.select().from(tasks).where(eq(tasks.planId, planId));
        return r.filter((t) => t.kind === 'rep_escalation' && t.status === 'open').length === 2 ? r : undefined;
      }, 'two open rep escalations in the tasks table');
      expect(rows.filter((t) => t.kind === 'rep_escalation').map((t) => t.id).sort()).toEqual([one.taskId, two.taskId].sort());
    } finally {
      await cleanUp(handle);
    }
  });

  it('refuses the second of two promises admitted together, with the plan sentence, and never repeats an id', async () => {
    const { planId, handle } = await unpolledPlan(50_000);
    const dueAt = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    const updates = [
      await admitUpdate(handle, recordPromiseUpdate, { amountMinor: 20_000, dueAt: dueAt(5), rep: 'Rita' }),
      await admitUpdate(handle, recordPromiseUpdate, { amountMinor: 30_000, dueAt: dueAt(7), rep: 'Sam' }),
    ];
    await startWorkers();
    try {
      const outcomes = await settled(updates);
      const accepted = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(accepted, 'one promise accepted').toHaveLength(1);
      expect(refused, 'one promise refused').toHaveLength(1);
      const failure = refused[0];
      expect(failure).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (failure as WorkflowUpdateFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe(failureTypes.PromiseRefused);
      expect((cause as ApplicationFailure).message).toBe(`Promise ${accepted[0]!.promiseId} is still open.`);

      const state = await handle.query(stateQuery);
      expect(state.status).toBe('promised');
      expect(state.promises.map((p) => p.id)).toEqual([accepted[0]!.promiseId]);
      const rows = await eventually(async () => {
        const r = await db.db.select().from(paymentPromises).where(eq(paymentPromises.planId, planId));
        return r.length > 0 ? r : undefined;
      }, 'the promise in the db');
      expect(rows.map((p) => p.id)).toEqual([accepted[0]!.promiseId]);
    } finally {
      await cleanUp(handle);
    }
  });
});
