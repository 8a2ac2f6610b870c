// The Java time-skipping test server, run offline through our launcher: weeks of timers in
// seconds, which is how the journey suites run the standard policy over real calendar days.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { systemClock } from '../activities/clock';
import { createOutboxMailer } from '../activities/mail';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { registerSearchAttributes } from '../worker/search-attributes';
import { installRuntime } from '../worker/worker';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { testConfig } from './support';

let env: TestWorkflowEnvironment;
let db: DatabaseHandle;
beforeAll(async () => {
  installRuntime();
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('testServerPath') } },
  });
  db = connectDatabase(inject('databaseUrl'), { max: 2 });
  await registerSearchAttributes(env.connection, testConfig('time-skipping'));
});
afterAll(async () => {
  await env?.teardown();
  await db?.close();
});

describe('time-skipping test server', () => {
  it('fires a 30-day timer without waiting 30 days', async () => {
    const config = testConfig('time-skipping');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: config.temporal.taskQueues.dunning,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createActivities({ db: db.db, mailer: createOutboxMailer(config.dataDir), clock: systemClock, config }),
    });
    const before = await env.currentTimeMs();
    const result = await worker.runUntil(
      env.client.workflow.execute(stackCheckWorkflow, {
        taskQueue: config.temporal.taskQueues.dunning,
        workflowId: `stack-check-${randomUUID()}`,
        args: [{ sleep: '30 days' }],
      }),
    );
    const skippedMs = (await env.currentTimeMs()) - before;
    expect(result.migrationsApplied).toBeGreaterThanOrEqual(1);
    expect(skippedMs).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
  });
});
