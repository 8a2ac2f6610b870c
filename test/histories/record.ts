// `npm run histories:record`: runs each journey variant on the time-skipping server (with a
// throw-away PostgreSQL) and saves its event history here. test/replay.test.ts replays them on
// every CI run, so a workflow change that would break plans already running fails the build.
// Each generation of the workflow code keeps its own folder: a new one is recorded when a
// change (behind patched()) alters the commands a journey produces, and the old folders stay,
// proving plans started under the old code still replay.
// `npm run histories:record -- paused-until` records only the variants named, leaving the
// folder's other histories as they were recorded.
import { mkdirSync, mkdtempSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'drizzle-orm';
import { cancel, holdInvoice, initiateDunning, pause, recordPromise, reportPayment, resume, type DunningContext } from '../../client/dunning';
import { connectDatabase, migrateDatabase } from '../../db/connection';
import { startEmbeddedPostgres } from '../../db/embedded';
import { loadConfig } from '../../worker/config';
import { freePort } from '../../worker/dev-server';
import { registerSearchAttributes } from '../../worker/search-attributes';
import { resolveTestServer } from '../../worker/toolchain';
import { mailerFromConfig } from '../../worker/mailer';
import { bundleWorkflows, installRuntime, startWorkers } from '../../worker/worker';
import { workflowIdFor } from '../../workflows/messages';
import { createPlan, dateOffset } from '../fixtures';
import { setPolicy } from '../../db/policies';
import type { DunningPolicy } from '../../workflows/domain/policy';

/** The generation today's code records: a pause may end on its own date (patch 'pause-until'). */
const generation = '3-pause-until';
const here = path.join(path.dirname(fileURLToPath(import.meta.url)), generation);
const { History } = proto.temporal.api.history.v1;
/** Plain JSON (64-bit numbers as strings, bytes as base64) that History.fromObject reads back. */
const historyToObject = (h: proto.temporal.api.history.v1.IHistory) =>
  History.toObject(History.fromObject(h), { longs: String, bytes: String, enums: Number });
/** What a variant drives a plan with, once the servers are up. */
interface Recording {
  ctx: DunningContext;
  env: TestWorkflowEnvironment;
  /** The test server's clock. */
  now(): Promise<Date>;
  /** Lets activities in flight finish. */
  settle(): Promise<void>;
}

/** Each journey variant: what happens to a plan after it is initiated, until its journey ends. */
const variants: Record<string, (planId: string, recording: Recording) => Promise<void>> = {
  'full-journey': async (planId, { ctx, env, settle }) => {
    await env.sleep('25 days');
    await settle();
    await cancel(ctx, { planId, reason: 'recorded' });
  },
  'paid-early': async (planId, { ctx, env, settle }) => {
    await env.sleep('6 days');
    await settle();
    await reportPayment(ctx, { planId, paymentId: `${planId}-pay`, amountMinor: 50_000 });
  },
  'promise-kept': async (planId, { ctx, env, now }) => {
    await recordPromise(ctx, { planId, amountMinor: 50_000, dueAt: new Date((await now()).getTime() + 5 * 86_400_000).toISOString() });
    await env.sleep('3 days');
    await reportPayment(ctx, { planId, paymentId: `${planId}-pay`, amountMinor: 50_000 });
  },
  'promise-broken': async (planId, { ctx, env, now, settle }) => {
    await recordPromise(ctx, {
      planId,
      installments: [
        { amountMinor: 20_000, dueAt: new Date((await now()).getTime() + 3 * 86_400_000).toISOString() },
        { amountMinor: 30_000, dueAt: new Date((await now()).getTime() + 8 * 86_400_000).toISOString() },
      ],
    });
    await env.sleep('12 days');
    await settle();
    await cancel(ctx, { planId, reason: 'recorded' });
  },
  // Paused until a day after the first reminder fell due (due + 3 d): the plan resumes by
  // itself and sends it; a part payment two days later. A generation from before
  // 'pause-until' ignores the date (as a worker not yet upgraded does with a newer client's
  // pause) and stays paused through the payment until the cancel.
  'paused-until': async (planId, { ctx, env, now, settle }) => {
    await pause(ctx, { planId, reason: 'dispute', until: new Date((await now()).getTime() + 6 * 86_400_000).toISOString() });
    await env.sleep('8 days');
    await settle();
    await reportPayment(ctx, { planId, paymentId: `${planId}-pay`, amountMinor: 10_000 });
    await settle();
    await cancel(ctx, { planId, reason: 'recorded' });
  },
  'paused-resumed': async (planId, { ctx, env, settle }) => {
    await pause(ctx, { planId, reason: 'dispute' });
    await env.sleep('8 days');
    await resume(ctx, { planId });
    await settle();
    await cancel(ctx, { planId, reason: 'recorded' });
  },
  cancelled: async (planId, { ctx }) => {
    await cancel(ctx, { planId, reason: 'recorded' });
  },
  // The plan's one invoice held for a dispute until day 5: nothing asked for meanwhile, then
  // back by itself and collected; cancelled on day 12.
  'invoice-held': async (planId, { ctx, env, now, settle }) => {
    const [item] = await ctx.db.execute<{ number: string }>(sql`
      select i.number from collection_plan_items ci join invoices i on i.id = ci.invoice_id where ci.plan_id = ${planId}`);
    await holdInvoice(ctx, { planId, invoiceNumber: item!.number, reason: 'disputed', until: new Date((await now()).getTime() + 5 * 86_400_000).toISOString() });
    await env.sleep('12 days');
    await settle();
    await cancel(ctx, { planId, reason: 'recorded' });
  },
  // Under policyActions (below): a late fee, steps held by the contact cap, and the plan handed
  // to an agency by the last step, closing the journey by itself.
  'policy-actions': async (_planId, { env, settle }) => {
    await env.sleep('30 days');
    await settle();
  },
};

/** The policy a variant runs under, when not the standard one. */
const policyActions: DunningPolicy = {
  name: 'policy-actions',
  steps: [
    { key: 'upcoming_notice', action: 'email', template: 'upcoming-invoices', at: 'P0D', from: 'initiated' },
    { key: 'first_reminder', action: 'email', template: 'first-reminder', at: 'P3D', from: 'due', fee: { fixedMinor: 1_500 } },
    { key: 'second_reminder', action: 'email', template: 'second-reminder', at: 'P10D', from: 'due', fee: { percent: 10, capMinor: 2_000 } },
    { key: 'end_of_dunning', action: 'send_to_agency', at: 'P20D', from: 'due' },
  ],
  maxPromises: 2,
  promiseGrace: 'P2D',
  contactCap: { channel: 'email', max: 1, per: 'P7D' },
};
const policyOf: Record<string, DunningPolicy> = { 'policy-actions': policyActions };

const only = process.argv.slice(2);
const unknown = only.filter((name) => !Object.hasOwn(variants, name));
if (unknown.length > 0) throw new Error(`No journey variant ${unknown.join(', ')}; the variants are ${Object.keys(variants).join(', ')}.`);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dunning-histories-'));
chmodSync(tmp, 0o755);
installRuntime();
const pg = await startEmbeddedPostgres({ dataDir: tmp, port: await freePort(), database: 'histories' });
try {
  await migrateDatabase(pg.url);
  const db = connectDatabase(pg.url);
  const config = loadConfig({ PATH: process.env.PATH, DUNNING_DATA_DIR: tmp, TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: pg.url });
  config.mail.ratePerSecond = 200;
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: await resolveTestServer(console.log) } },
  });
  await registerSearchAttributes(env.connection, config);
  const workers = await startWorkers({
    connection: env.nativeConnection,
    config,
    db: db.db,
    mailer: mailerFromConfig(config).mailer,
    workflowBundle: await bundleWorkflows(),
  });
  const ctx: DunningContext = { client: env.client, db: db.db, config };
  const now = async () => new Date(await env.currentTimeMs());
  const settle = () => new Promise<void>((r) => setTimeout(r, 1500)); // let activities in flight finish

  for (const [name, drive] of Object.entries(variants)) {
    if (only.length > 0 && !only.includes(name)) continue;
    const start = await now();
    const { planId } = await createPlan(db.db, { now: start, invoices: [{ amountMinor: 50_000, dueOn: dateOffset(2, start) }] });
    const policy = policyOf[name];
    if (policy) await setPolicy(db.db, policy);
    await initiateDunning(ctx, { planId, policyName: policy?.name });
    await settle();
    await drive(planId, { ctx, env, now, settle });
    const handle = env.client.workflow.getHandle(workflowIdFor(planId));
    await handle.result();
    mkdirSync(here, { recursive: true });
    const file = path.join(here, `${name}.json`);
    writeFileSync(file, JSON.stringify(historyToObject(await handle.fetchHistory()), null, 1));
    console.log(`recorded ${name} → ${path.relative(process.cwd(), file)}`);
  }
  await workers.shutdown();
  await env.teardown();
  await db.close();
} finally {
  await pg.stop();
  rmSync(tmp, { recursive: true, force: true });
}
