// Plan events out, end to end: real journeys on the dev server, the engine's own workers and
// delivery workflows, and a local receiver that checks every signature with the Standard
// Webhooks library and counts what arrives by webhook-id.
import { randomUUID } from 'node:crypto';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancel, completeTask, escalate, initiateDunning, pause, recordPromise, reportPayment, resume } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { addWebhook, disableWebhook, rotateWebhookSecret, showWebhook, testWebhook } from '../client/webhooks';
import { planEventTypes } from '../db/plan-events';
import { planEvents, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../db/schema';
import { generateWebhookSecret, sealWebhookSecret } from '../db/webhook-secrets';
import { webhookWorkflowId } from '../workflows/webhook-delivery';
import { ensureRetentionSchedule } from '../client/retention';
import { createPlan, eventually, secondsPolicy, waitForPlanState } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';
import { runDunning } from './engine-process';
import { cliEnv, deliveriesPerKey } from './support';
import { webhookViolations } from './openapi-contract';
import { deliverHere, startReceiver, type Receiver } from './webhook-receiver';
import { signedInConsole } from './console-support';

let h: ApiHarness;
const run = randomUUID().slice(0, 6);
const policy = `hooks-${run}`;

/** Short retries for the tests: a second, then two; the endpoint is disabled after `window`. */
const quickRetry = (window = '1 hour') => ({ window, initialInterval: '1 second', maximumInterval: '2 seconds' });

/** The endpoints made here: the database is shared with other suites, whose events must not be owed to them. */
const made: string[] = [];

/** An endpoint for every event type at the receiver, with its delivery running (each call waiting `idleWaitMs` for an event). */
async function endpointFor(receiver: Receiver, retry = quickRetry(), idleWaitMs = 2_000) {
  const added = await addWebhook(h.ctx, { url: receiver.url, events: 'all' });
  made.push(added.id);
  receiver.trust(added.secret);
  await deliverHere(h.stack.client, h.stack.config, { endpointId: added.id, idleWaitMs, retry });
  return added;
}

/** Text as the console's JSX writes it into a page. */
const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const eventsOf = (receiver: Receiver, planId: string) => receiver.taken().filter((r) => r.body.data.planId === planId);

beforeAll(async () => {
  h = await startApiHarness('webhooks');
  await setPolicy(h.ctx, { policy: secondsPolicy(policy, { upcoming_notice: 0, first_reminder: 2, manual_escalation: 4 }, { promiseGrace: 'PT1S' }) });
});
afterAll(async () => {
  if (made.length) await h.ctx.db.delete(webhookEndpoints).where(inArray(webhookEndpoints.id, made));
  await h?.close();
});

describe('a journey\'s events', () => {
  let receiver: Receiver;
  let planIds: { resolved: string; cancelled: string; writtenOff: string; sentToAgency: string; serviceCancelled: string };

  beforeAll(async () => {
    receiver = await startReceiver({ failFirst: 2 });
    await endpointFor(receiver);
    const plan = async (amountMinor: number) => (await createPlan(h.ctx.db, { invoices: [{ amountMinor, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] })).planId;
    const waitFor = (planId: string, ok: Parameters<typeof waitForPlanState>[2], what: string) => waitForPlanState(h.stack.client, planId, ok, what);

    // Resolved: every step, a pause and a resume, a rep's escalation, a promise kept by a payment.
    const resolved = await plan(30_000);
    await initiateDunning(h.ctx, { planId: resolved, policyName: policy });
    await waitFor(resolved, (s) => s.steps.every((st) => st.status === 'completed'), 'every step to run');
    await pause(h.ctx, { planId: resolved, reason: 'customer on holiday' });
    await resume(h.ctx, { planId: resolved });
    await escalate(h.ctx, { planId: resolved, reason: 'asked for a call' });
    await recordPromise(h.ctx, { planId: resolved, amountMinor: 30_000, dueAt: new Date(Date.now() + 3_600_000).toISOString() });
    await reportPayment(h.ctx, { planId: resolved, paymentId: `${run}-pay-1`, amountMinor: 30_000, receivedAt: new Date().toISOString() });
    await waitFor(resolved, (s) => s.status === 'resolved', 'the plan to resolve');

    // Cancelled, after a promise broken (due in two seconds, a second's grace).
    const cancelled = await plan(20_000);
    await initiateDunning(h.ctx, { planId: cancelled, policyName: policy });
    await recordPromise(h.ctx, { planId: cancelled, amountMinor: 20_000, dueAt: new Date(Date.now() + 2_000).toISOString() });
    await waitFor(cancelled, (s) => s.promises[0]?.status === 'broken', 'the promise to break');
    await cancel(h.ctx, { planId: cancelled, reason: 'billed elsewhere' });

    // Written off by the rep closing its escalation task.
    const writtenOff = await plan(10_000);
    await initiateDunning(h.ctx, { planId: writtenOff, policyName: policy });
    const { taskId } = await escalate(h.ctx, { planId: writtenOff, reason: 'no answer' });
    await completeTask(h.ctx, { planId: writtenOff, taskId, outcome: 'write_off' });
    await waitFor(writtenOff, (s) => s.status === 'written_off', 'the write-off');

    // Closed by a policy's end action: handed to an agency, and service cancelled.
    const ending = async (action: 'send_to_agency' | 'cancel_service', status: string) => {
      const ended = secondsPolicy(`${policy}-${action.replace(/_/g, '-')}`, { upcoming_notice: 0 });
      ended.steps.push({ key: 'end_of_dunning', action, at: 'PT1S', from: 'initiated' });
      await setPolicy(h.ctx, { policy: ended });
      const planId = await plan(5_000);
      await initiateDunning(h.ctx, { planId, policyName: ended.name });
      await waitFor(planId, (s) => s.status === status, status);
      return planId;
    };
    const sentToAgency = await ending('send_to_agency', 'sent_to_agency');
    const serviceCancelled = await ending('cancel_service', 'service_cancelled');
    planIds = { resolved, cancelled, writtenOff, sentToAgency, serviceCancelled };

    // Everything recorded for these plans has arrived.
    const recorded = await h.ctx.db.select({ id: planEvents.id }).from(planEvents).where(inArray(planEvents.planId, Object.values(planIds)));
    const ours = new Set(recorded.map((r) => r.id));
    await eventually(async () => (receiver.taken().filter((r) => ours.has(r.id)).length >= ours.size ? true : undefined), 'every event to arrive', 60_000);
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
  });

  it('sends every type of the catalogue, each event once by id, signed', async () => {
    const all = Object.values(planIds).flatMap((planId) => eventsOf(receiver, planId));
    expect(new Set(all.map((r) => r.body.type))).toEqual(new Set(planEventTypes));
    const perId = new Map<string, number>();
    for (const r of all) perId.set(r.id, (perId.get(r.id) ?? 0) + 1);
    expect([...perId.values()].filter((n) => n > 1)).toEqual([]);
    expect(receiver.failures).toEqual([]);
    // Each as the OpenAPI document's webhooks section describes it.
    expect(all.flatMap((r) => webhookViolations(r.body as never).map((v) => `${r.body.type}: ${v}`))).toEqual([]);
  });

  it('keeps each plan\'s order, and says what the change left owed', async () => {
    const resolved = eventsOf(receiver, planIds.resolved).map((r) => r.body);
    expect(resolved.map((b) => [b.type, b.data.step ?? b.data.outcome ?? null])).toEqual([
      ['plan.initiated', null],
      ['plan.step_completed', 'upcoming_notice'],
      ['plan.step_completed', 'first_reminder'],
      ['plan.step_completed', 'manual_escalation'],
      ['plan.paused', null],
      ['plan.resumed', null],
      ['plan.escalated', null],
      ['plan.promise_made', null],
      ['plan.payment_applied', null],
      ['plan.promise_kept', null],
      ['plan.resolved', null],
    ]);
    const payment = resolved.find((b) => b.type === 'plan.payment_applied')!;
    expect(payment.data).toMatchObject({ paymentId: `${run}-pay-1`, amountMinor: 30_000, owedMinor: 0, currency: 'USD', version: 1 });
    expect(resolved[0]!.data).toMatchObject({ owedMinor: 30_000, planId: planIds.resolved });
    expect(resolved.find((b) => b.type === 'plan.promise_made')!.data.amountMinor).toBe(30_000);
  });

  it('retries a refused delivery with the same webhook-id', async () => {
    // The receiver refused the first two requests: both the same event, taken on the third.
    const [first, second, third] = receiver.received;
    expect([first!.status, second!.status, third!.status]).toEqual([503, 503, 204]);
    expect(new Set([first!.id, second!.id, third!.id]).size).toBe(1);
    const attempts = await h.ctx.db.select().from(webhookAttempts).where(eq(webhookAttempts.eventId, first!.id)).orderBy(webhookAttempts.id);
    expect(attempts.map((a) => a.httpStatus)).toEqual([503, 503, 204]);
  });
});

describe('a quiet endpoint', () => {
  it('waits for events longer than its heartbeat timeout without failing, and wakes when one is recorded', async () => {
    const receiver = await startReceiver();
    // Each call waits 30 s for an event: longer than the 20 s heartbeat timeout.
    const added = await endpointFor(receiver, quickRetry(), 30_000);
    const handle = h.stack.client.workflow.getHandle(webhookWorkflowId(added.id));
    // Whatever other suites' plans owe it first, then quiet; then a plan of our own.
    await new Promise((r) => setTimeout(r, 25_000));
    const planId = (await createPlan(h.ctx.db, { invoices: [{ amountMinor: 6_000, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] })).planId;
    const recordedAt = Date.now();
    await initiateDunning(h.ctx, { planId, policyName: policy });
    await eventually(async () => (eventsOf(receiver, planId).some((r) => r.body.type === 'plan.initiated') ? true : undefined), 'the event', 10_000);
    expect(Date.now() - recordedAt).toBeLessThan(10_000);
    // Every call that has ended did so on its first attempt: none timed out while it waited
    // (retries leave no event of their own, only the attempt number of the one that ended).
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : []));
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.filter((a) => a !== 1)).toEqual([]);
    await cancel(h.ctx, { planId, reason: 'test done' });
    await receiver.close();
  }, 90_000);
});

describe('an endpoint that never answers', () => {
  it('is disabled once its retry window has passed, and says why', async () => {
    const receiver = await startReceiver({ status: 500 });
    const { id } = await endpointFor(receiver, quickRetry('6 seconds'));
    const planId = (await createPlan(h.ctx.db, { invoices: [{ amountMinor: 5_000, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] })).planId;
    await initiateDunning(h.ctx, { planId, policyName: policy });
    const disabled = await eventually(async () => {
      const [e] = await h.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
      return e?.status === 'disabled' ? e : undefined;
    }, 'the endpoint to be disabled', 30_000);
    expect(disabled.disabledReason).toMatch(/^Disabled by the engine: no event delivered for 6 seconds; last: .*HTTP 500/);
    const owed = await h.ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id));
    const waiting = owed.filter((d) => d.status === 'pending');
    expect(waiting.some((d) => d.attempts >= 2)).toBe(true);
    // Its workflow ends.
    await h.stack.client.workflow.getHandle(webhookWorkflowId(id)).result();
    // Ops are told: the endpoint's timeline says why and what waits, and so does the page they open first.
    const shown = await showWebhook(h.ctx, { id });
    const told = `${disabled.disabledReason!.replace(/\.$/, '')}. ${waiting.length === 1 ? '1 event waits' : `${waiting.length} events wait`} for it; \`dunning webhook enable ${id}\` sends ${waiting.length === 1 ? 'it' : 'them'} and what comes after.`;
    expect(shown.timeline.map((t) => t.kind)).toEqual(['added', 'disabled']);
    expect(shown.timeline[1]!.summary).toBe(told);
    expect(shown.waiting).toBe(waiting.length);
    expect(shown.attempts[0]).toMatchObject({ httpStatus: 500 });
    const page = await (await signedInConsole(h.api, h.keys.ops)).get('/reports');
    expect(page.status).toBe(200);
    expect(page.html).toContain('Webhooks not receiving events');
    expect(page.html).toContain(`<code>${id}</code> (${receiver.url}), disabled`);
    expect(page.html).toContain(escapeHtml(disabled.disabledReason!));
    await cancel(h.ctx, { planId, reason: 'test done' });
    await receiver.close();
  });

  it('is refused at delivery when its URL no longer passes the rules, as after a name moved to a private address', async () => {
    // Written straight to the table, as the endpoint would stand had its name resolved to a
    // public address when added and to 10.0.0.5 now.
    const id = `wh_moved_${run}`;
    const secret = sealWebhookSecret(generateWebhookSecret(), h.stack.config.webhooks.secretKey);
    await h.ctx.db.insert(webhookEndpoints).values({ id, url: 'https://10.0.0.5/hooks', events: [...planEventTypes], secretCiphertext: secret });
    made.push(id);
    await deliverHere(h.stack.client, h.stack.config, { endpointId: id, idleWaitMs: 2_000, retry: quickRetry('4 seconds') });
    const planId = (await createPlan(h.ctx.db, { invoices: [{ amountMinor: 5_000, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] })).planId;
    await initiateDunning(h.ctx, { planId, policyName: policy });
    await h.stack.client.workflow.getHandle(webhookWorkflowId(id)).result();
    const [endpoint] = await h.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
    expect(endpoint!.status).toBe('disabled');
    expect(endpoint!.disabledReason).toMatch(/^Disabled by the engine: no event delivered for 4 seconds; last: .*10\.0\.0\.5/);
    // Nothing was sent: no attempt reached the network.
    expect(await h.ctx.db.select().from(webhookAttempts).where(eq(webhookAttempts.endpointId, id))).toEqual([]);
    await cancel(h.ctx, { planId, reason: 'test done' });
  });
});

describe('sending again, and a test event', () => {
  let receiver: Receiver;
  let endpointId: string;
  let planId: string;

  beforeAll(async () => {
    receiver = await startReceiver();
    endpointId = (await endpointFor(receiver)).id;
    planId = (await createPlan(h.ctx.db, { invoices: [{ amountMinor: 7_000, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] })).planId;
    await initiateDunning(h.ctx, { planId, policyName: policy });
    await eventually(async () => (eventsOf(receiver, planId).length >= 3 ? true : undefined), 'the plan\'s first events to arrive');
  });
  afterAll(async () => {
    await cancel(h.ctx, { planId, reason: 'test done' });
    await receiver?.close();
  });

  it('sends one event again with its own webhook-id, over the CLI and over HTTP', async () => {
    const initiated = eventsOf(receiver, planId).find((r) => r.body.type === 'plan.initiated')!;
    const cli = await runDunning(['webhook', 'redeliver', endpointId, '--event', initiated.id], cliEnv(h.stack));
    expect(cli.stdout.trim()).toBe(`1 event will be sent to webhook ${endpointId} again, each with its own webhook-id.`);
    await eventually(async () => (receiver.taken().filter((r) => r.id === initiated.id).length === 2 ? true : undefined), 'the event again');
    const http = await h.call('POST', `/v1/webhooks/${endpointId}/redeliver`, { as: 'ops', body: { eventId: initiated.id } });
    expect([http.status, http.body]).toEqual([200, { redelivered: 1 }]);
    await eventually(async () => (receiver.taken().filter((r) => r.id === initiated.id).length === 3 ? true : undefined), 'the event a third time');
    expect(new Set(receiver.taken().filter((r) => r.id === initiated.id).map((r) => JSON.stringify(r.body))).size).toBe(1);
  });

  it('sends every event since a time again', async () => {
    const countsOf = () => deliveriesPerKey(eventsOf(receiver, planId).map((r) => r.id));
    const before = countsOf();
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const answer = await h.call('POST', `/v1/webhooks/${endpointId}/redeliver`, { as: 'ops', body: { since } });
    expect(answer.status).toBe(200);
    // This plan's events, and other suites' too (the database is shared).
    expect((answer.body as { redelivered: number }).redelivered).toBeGreaterThanOrEqual(Object.keys(before).length);
    await eventually(async () => {
      const now = countsOf();
      return Object.entries(before).every(([id, n]) => (now[id] ?? 0) >= n + 1) ? true : undefined;
    }, 'each of the plan\'s events once more');
  });

  it('refuses in one sentence, the same on the command line and over HTTP', async () => {
    const cases: Array<[string[], Record<string, unknown>, number, string]> = [
      [[], {}, 422, 'Name one event to send again (--event evt_…) or a time to send every event since (--since 2026-11-27T09:00:00Z), not both.'],
      [['--since', 'yesterday'], { since: 'yesterday' }, 422, '"yesterday" is not a date-time; write it as 2026-11-27T09:00:00Z.'],
      [['--event', 'evt_nope'], { eventId: 'evt_nope' }, 404, `Unknown event "evt_nope" for webhook ${endpointId}; it takes ${planEventTypes.join(', ')}.`],
    ];
    for (const [flags, body, status, sentence] of cases) {
      const cli = await runDunning(['webhook', 'redeliver', endpointId, ...flags], cliEnv(h.stack));
      expect([cli.code, cli.stderr.trim()]).toEqual([1, sentence]);
      const http = await h.call('POST', `/v1/webhooks/${endpointId}/redeliver`, { as: 'ops', body });
      expect([http.status, (http.body as { detail: string }).detail]).toEqual([status, sentence]);
    }
  });

  it('signs with both secrets for a day after a rotation, so a receiver on either takes the events', async () => {
    const oldSecret = receiver.secrets()[0]!;
    const rotated = await rotateWebhookSecret(h.ctx, { id: endpointId });
    for (const trusted of [[oldSecret], [rotated.secret]]) {
      receiver.trust(...trusted);
      const before = receiver.taken().length;
      const { eventId } = await testWebhook(h.ctx, { id: endpointId });
      // Other suites' plan events may arrive meanwhile (the endpoint takes them all): only test events count here.
      expect(receiver.taken().slice(before).filter((r) => r.id.startsWith('evt_test_')).map((r) => r.id)).toEqual([eventId]);
    }
    // Each request carried two signatures.
    expect(receiver.received.at(-1)!.signatures).toBe(2);
    receiver.trust(rotated.secret);
  });

  it('sends a signed test event once and says how the endpoint answered', async () => {
    const cli = await runDunning(['webhook', 'test', endpointId, '--json'], cliEnv(h.stack));
    expect(cli.code).toBe(0);
    const result = JSON.parse(cli.stdout) as { eventId: string; httpStatus: number; error: null };
    expect(result).toMatchObject({ httpStatus: 204, error: null });
    const taken = receiver.taken().filter((r) => r.id === result.eventId);
    expect(taken.map((r) => r.body.type as string)).toEqual(['webhook.test']);
    expect(webhookViolations(taken[0]!.body as never)).toEqual([]);
    // An endpoint that does not answer: the CLI says so and exits 1.
    const silent = await addWebhook(h.ctx, { url: 'http://127.0.0.1:9/nobody', events: 'plan.resolved' });
    made.push(silent.id);
    const refused = await runDunning(['webhook', 'test', silent.id], cliEnv(h.stack));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(new RegExp(`^Webhook ${silent.id} did not take the test event evt_test_\\w+: `));
    // A disabled endpoint is refused.
    await disableWebhook(h.ctx, { id: silent.id, by: 'the test' });
    const http = await h.call('POST', `/v1/webhooks/${silent.id}/test`, { as: 'ops', body: {} });
    expect([http.status, (http.body as { detail: string }).detail]).toEqual([409, `Webhook ${silent.id} is disabled; enable it first (\`dunning webhook enable ${silent.id}\`).`]);
  });
});


describe('retention', () => {
  it('prunes plan events and attempts past webhooks.retentionDays on its hourly schedule, keeping what an enabled endpoint is still owed', async () => {
    const { planId } = await createPlan(h.ctx.db, { invoices: [{ amountMinor: 5_000, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] });
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);
    // Written here rather than by a journey: a journey's events are owed to every suite's endpoints.
    const event = (name: string, at: Date) => ({ id: `evt_keep_${run}_${name}`, type: 'plan.initiated' as const, planId, occurredAt: at, body: { name } });
    const rows = await h.ctx.db
      .insert(planEvents)
      .values([event('owed', daysAgo(40)), event('waiting-for-disabled', daysAgo(40)), event('delivered', daysAgo(40)), event('recent', daysAgo(29))])
      .returning({ position: planEvents.position, id: planEvents.id });
    const position = (name: string) => rows.find((r) => r.id === `evt_keep_${run}_${name}`)!.position;
    const failing = await startReceiver({ status: 500 });
    const enabled = await endpointFor(failing);
    const disabled = await addWebhook(h.ctx, { url: `https://127.0.0.1:9/${run}/retention`, events: 'all' });
    made.push(disabled.id);
    await disableWebhook(h.ctx, { id: disabled.id, by: 'the retention test' });
    await h.ctx.db.insert(webhookDeliveries).values([
      { endpointId: enabled.id, eventPosition: position('owed') },
      { endpointId: disabled.id, eventPosition: position('waiting-for-disabled') },
      { endpointId: enabled.id, eventPosition: position('delivered'), status: 'delivered', deliveredAt: daysAgo(40) },
    ]);
    await h.ctx.db.insert(webhookAttempts).values([
      { endpointId: disabled.id, eventId: 'evt_old_attempt', httpStatus: 500, latencyMs: 3, error: 'HTTP 500', at: daysAgo(31) },
      { endpointId: disabled.id, eventId: 'evt_recent_attempt', httpStatus: 500, latencyMs: 3, error: 'HTTP 500', at: daysAgo(29) },
    ]);

    // The schedule a worker process makes as it starts (test/processes checks it does); triggered
    // here rather than waited for, an hour.
    const schedule = h.stack.client.schedule.getHandle(await ensureRetentionSchedule(h.stack.client, h.stack.config));
    await schedule.trigger();

    const kept = async () => (await h.ctx.db.select({ id: planEvents.id }).from(planEvents).where(eq(planEvents.planId, planId))).map((e) => e.id).sort();
    // One statement deletes every old event it may: once the delivered one is gone, the run is done.
    await eventually(async () => ((await kept()).includes(`evt_keep_${run}_delivered`) ? undefined : true), 'the retention run', 30_000);
    expect(await kept()).toEqual([`evt_keep_${run}_owed`, `evt_keep_${run}_recent`]);
    const attempts = await h.ctx.db.select({ eventId: webhookAttempts.eventId }).from(webhookAttempts).where(eq(webhookAttempts.endpointId, disabled.id));
    expect(attempts.map((a) => a.eventId)).toEqual(['evt_recent_attempt']);
    // The deliveries went with their events; the one still owed waits as it was.
    const deliveries = await h.ctx.db.select().from(webhookDeliveries).where(inArray(webhookDeliveries.eventPosition, rows.map((r) => r.position)));
    expect(deliveries.map((d) => [d.endpointId, d.eventPosition, d.status])).toEqual([[enabled.id, position('owed'), 'pending']]);
    await failing.close();
  });
});
