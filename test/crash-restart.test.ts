// The whole stack killed with SIGKILL while a workflow sleeps on a timer, then started again
// on the same data dir: the workflow finishes. Then Ctrl-C stops every process of the tree.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { stackCheckWorkflow } from '../workflows/stack-check';
import { engineSetup, startEngine, type EngineProcess } from './engine-process';
import { testDataDir } from './support';

const { EventType } = proto.temporal.api.enums.v1;
let engine: EngineProcess | undefined;

afterEach(async () => {
  if (engine && engine.child.exitCode === null) {
    engine.signal('SIGKILL');
    await engine.gone(10_000);
  }
});

async function withClient<T>(address: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

describe('dunning start as a process tree', () => {
  it('finishes a sleeping workflow after SIGKILL of the whole stack, and stops cleanly on Ctrl-C', async () => {
    const setup = await engineSetup(testDataDir('crash'));
    engine = await startEngine(setup);
    // The mail worker runs activities only, on purpose: the SDK's warning about it stays out.
    expect(engine.output()).not.toContain('No workflows registered');
    const workflowId = `stack-check-${randomUUID()}`;

    await withClient(setup.temporalAddress, async (client) => {
      const handle = await client.workflow.start(stackCheckWorkflow, {
        taskQueue: 'dunning',
        workflowId,
        args: [{ sleep: '8s' }],
      });
      // Wait until the worker has picked it up and the timer is running on the server.
      for (;;) {
        const history = await handle.fetchHistory();
        if (history.events!.some((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    engine.signal('SIGKILL');
    await engine.gone(10_000);

    engine = await startEngine(setup);
    const result = await withClient(setup.temporalAddress, (client) =>
      client.workflow.getHandle<typeof stackCheckWorkflow>(workflowId).result(),
    );
    expect(result.migrationsApplied).toBeGreaterThanOrEqual(1);
    // The HTTP server came back with the rest, on the configured port.
    const health = await fetch(`${setup.httpUrl}/health`);
    expect(await health.json()).toEqual({ status: 'ok', temporal: 'ok', database: 'ok' });

    engine.signal('SIGINT');
    const stoppedInMs = await engine.gone(20_000);
    expect(engine.output()).toContain('Stopped cleanly');
    console.log(`stack stopped ${stoppedInMs} ms after SIGINT`);
  });
});
