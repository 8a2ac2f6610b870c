// An endpoint added while a worker runs, and the worker process killed (SIGKILL) while the
// endpoint holds one of its deliveries: a new worker delivers that event again, with the same
// webhook-id, and every other event once. The receiver counts by webhook-id, where a lost or
// second delivery would show.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { inArray } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { initiateDunning } from '../client/dunning';
import { addWebhook } from '../client/webhooks';
import { connectDatabase, type DatabaseHandle } from '../db/connection';
import { setPolicy } from '../db/policies';
import { planEvents, webhookEndpoints } from '../db/schema';
import { sharedWorkerSetup, startEngine, type EngineProcess } from './engine-process';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { deliveriesPerKey, testConfig } from './support';
import { deliverHere, startReceiver, type Receiver } from './webhook-receiver';
import { webhookWorkflowId } from '../workflows/webhook-delivery';

let db: DatabaseHandle;
let connection: Connection;
let engine: EngineProcess | undefined;
let receiver: Receiver;
let endpointId: string | undefined;

beforeAll(async () => {
  db = connectDatabase(inject('databaseUrl'), { max: 2 });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  receiver = await startReceiver();
});
afterEach(async () => {
  if (engine && engine.child.exitCode === null) {
    engine.signal('SIGKILL');
    await engine.gone(10_000);
  }
});
afterAll(async () => {
  // The database is shared with other suites: their events must not be owed to this receiver.
  if (endpointId) await db.db.delete(webhookEndpoints).where(inArray(webhookEndpoints.id, [endpointId]));
  await connection?.close();
  await db?.close();
  await receiver?.close();
});

describe('a worker killed while an endpoint holds a delivery', () => {
  it('delivers every event, the cut-off one again with the same id', async () => {
    const config = testConfig('webhook-crash');
    const key = randomBytes(32);
    // `dunning worker` against the shared dev server and PostgreSQL, sealing secrets with our key.
    const setup = await sharedWorkerSetup(
      config,
      { temporalAddress: inject('temporalAddress'), databaseUrl: inject('databaseUrl') },
      { DUNNING_WEBHOOK_KEY: key.toString('base64') },
    );
    const ctx = { client: new Client({ connection }), db: db.db, config: { ...config, webhooks: { secretKey: key, allowPrivateNetworks: false, retentionDays: config.webhooks.retentionDays } } };
    const policy = `hook-crash-${randomUUID().slice(0, 6)}`;
    await setPolicy(db.db, secondsPolicy(policy, { upcoming_notice: 0, first_reminder: 3 }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await createPlan(db.db, { invoices: [{ amountMinor: 9_900, dueOn: dateOffset(7) }] })).planId);

    // The endpoint is added while the worker runs: the worker hears of it and starts its
    // delivery. The first request is held, and the worker killed.
    engine = await startEngine(setup, { command: 'worker' });
    const added = await addWebhook(ctx, { url: receiver.url, events: 'all' });
    endpointId = added.id;
    // The worker starts it on hearing of the endpoint (so may another suite's engine: ours then takes it over).
    await eventually(async () => ((await ctx.client.workflow.getHandle(webhookWorkflowId(added.id)).describe().catch(() => undefined)) ? true : undefined), 'the delivery to start');
    await deliverHere(ctx.client, config, { endpointId: added.id });
    // Requests are taken (and the first held) once the delivery runs on this worker alone.
    await new Promise((r) => setTimeout(r, 2_000));
    const { held, answer } = receiver.holdNext();
    receiver.trust(added.secret);
    for (const planId of ids) await initiateDunning(ctx, { planId, policyName: policy });
    const cutOff = await held;
    engine.signal('SIGKILL');
    await engine.gone(10_000);
    answer(204); // it did reach the receiver; the worker never heard

    // A new worker: the cut-off event again, then the rest.
    engine = await startEngine(setup, { command: 'worker' });
    const recorded = async () => (await db.db.select({ id: planEvents.id }).from(planEvents).where(inArray(planEvents.planId, ids))).map((e) => e.id);
    await eventually(async () => {
      const taken = new Set(receiver.taken().map((r) => r.id));
      const all = await recorded();
      // Three plans: initiated and two steps each.
      return all.length === 9 && all.every((id) => taken.has(id)) ? true : undefined;
    }, 'every event to arrive', 120_000);

    // Every event the receiver took came once, the cut-off one twice. (The database is shared:
    // other suites' events reach this endpoint too, the cut-off one may be theirs.)
    const perId = deliveriesPerKey(receiver.taken().map((r) => r.id));
    expect(Object.entries(perId).filter(([, n]) => n !== 1)).toEqual([[cutOff, 2]]);
    expect((await recorded()).every((id) => perId[id] !== undefined)).toBe(true);
    // Each plan's events in their order, the repeat aside.
    for (const planId of ids) {
      const types = receiver.taken().filter((r) => r.body.data.planId === planId).map((r) => `${r.body.type}:${r.body.data.step ?? ''}`);
      expect([...new Set(types)]).toEqual(['plan.initiated:', 'plan.step_completed:upcoming_notice', 'plan.step_completed:first_reminder']);
    }
  }, 300_000);
});
