// The standard policy over real calendar days on the time-skipping test server: weeks of
// timers in seconds, with the real worker, activities, PostgreSQL and outbox.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { localParts } from '../workflows/domain/calendar';
import { cancel, completeTask, escalate, initiateDunning, pause, reportPayment, resume, type DunningContext } from '../client/dunning';
import { planStatus } from '../client/status';
import { setConsent } from '../client/consent';
import { plainTextPart, readOutboxDeliveries } from '../activities/mail';
import { loadPlanContext } from '../db/plans';
import type { DatabaseHandle } from '../db/connection';
import { setPolicy } from '../db/policies';
import { formatDate } from '../templates';
import { standardPolicy } from '../workflows/domain/policy';
import { isoMinute } from '../workflows/domain/time';
import type { dunningWorkflow } from '../workflows/dunning';
import { stateQuery, workflowIdFor, type PlanState } from '../workflows/messages';
import { createPlan, dateOffset, outboxFor, stepOf, waitForPlanState, zoneWhereLocalHourIs } from './fixtures';
import { deliveriesPerKey, startTimeSkippingStack, type TimeSkippingStack } from './support';

let stack: TimeSkippingStack;
let env: TestWorkflowEnvironment;
let db: DatabaseHandle;
let ctx: DunningContext;
let outbox: string;

beforeAll(async () => {
  stack = await startTimeSkippingStack('journey');
  ({ env, db, ctx, outboxDir: outbox } = stack);
});
afterAll(async () => {
  await stack?.close();
});

const handleFor = (planId: string) => env.client.workflow.getHandle<typeof dunningWorkflow>(workflowIdFor(planId));
const stateOf = (planId: string) => handleFor(planId).query(stateQuery);
/** The test server's clock: it runs ahead of the wall clock as tests skip time. */
const serverNow = () => stack.now();
const step = stepOf;
const waitForState = (planId: string, ok: (s: PlanState) => boolean, what: string) => waitForPlanState(env.client, planId, ok, what);

/** An outbox message of a plan's step, read back: subject, plain text and its invoice lines. */
async function emailOf(planId: string, stepKey: string) {
  const mime = await readFile(path.join(outbox, `${planId}_${stepKey}.eml`), 'utf8');
  const text = plainTextPart(mime);
  return {
    subject: /^Subject: (.*)$/m.exec(mime)![1]!,
    account: /^Total owed by (.*): /m.exec(text)![1]!,
    text,
    // "Invoice N  issued …  due …  overdue …  open … of …", without the parts that move with the clock.
    invoices: text
      .split('\n')
      .filter((l) => l.startsWith('  Invoice '))
      .map((l) => l.trim().replace(/ {2}issued .*? {2}due /, '  due ').replace(/ {2}overdue .*? {2}open /, '  open ')),
  };
}

async function initiate(planId: string): Promise<void> {
  await initiateDunning(ctx, { planId });
  await waitForState(planId, (s) => step(s, 'upcoming_notice').status !== 'pending' && s.steps.length === 4, 'the journey to begin');
}

describe('the standard journey (time-skipping)', () => {
  it('runs notice, two reminders and escalation on their calendar days', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 125_000, dueOn: dateOffset(5, now) }] });
    const initiatedAt = await env.currentTimeMs();
    await initiate(planId);
    await waitForState(planId, (s) => step(s, 'upcoming_notice').status === 'completed', 'the upcoming notice');
    expect(outboxFor(outbox, planId)).toEqual([`${planId}_upcoming_notice.eml`]);

    await env.sleep('7 days'); // due + 2 days: first reminder (due + 3) not yet
    let s = await stateOf(planId);
    expect(step(s, 'first_reminder').status).toBe('waiting');

    await env.sleep('2 days'); // due + 4
    s = await waitForState(planId, (x) => step(x, 'first_reminder').status === 'completed', 'the first reminder');
    expect(step(s, 'second_reminder').status).toBe('waiting');

    await env.sleep('8 days'); // due + 12
    s = await waitForState(planId, (x) => step(x, 'second_reminder').status === 'completed', 'the second reminder');
    expect(s.tasks).toEqual([]);

    await env.sleep('9 days'); // due + 21
    s = await waitForState(planId, (x) => step(x, 'manual_escalation').status === 'completed', 'the escalation task');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ kind: 'manual_escalation', status: 'open' }]);
    expect(outboxFor(outbox, planId)).toHaveLength(3);

    // Each step ran on (not before) its day: due + 3 / + 10 / + 20 at 09:00 local.
    const completedDay = (key: string) => Math.floor((Date.parse(step(s, key).completedAt!) - initiatedAt) / 86_400_000);
    expect(completedDay('first_reminder')).toBe(7);
    expect(completedDay('second_reminder')).toBe(14);
    expect(completedDay('manual_escalation')).toBe(24);

    const view = await planStatus({ db: db.db }, { planId });
    expect(view.steps.map((x) => x.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(view.timeline.map((e) => e.kind)).toEqual(['initiated', 'email_sent', 'email_sent', 'email_sent', 'task_created', 'step']);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('stops reminding once paid in full between reminders', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 50_000, dueOn: dateOffset(1, now) }] });
    await initiate(planId);
    await env.sleep('5 days');
    await waitForState(planId, (s) => step(s, 'first_reminder').status === 'completed', 'the first reminder');
    await reportPayment(ctx, { planId, paymentId: `pay-${planId}`, amountMinor: 50_000 });
    const result = await handleFor(planId).result();
    expect(result.status).toBe('resolved');
    expect(step(result, 'second_reminder')).toMatchObject({ status: 'skipped', reason: 'nothing owed' });
    expect(step(result, 'manual_escalation').status).toBe('skipped');
    await env.sleep('30 days');
    expect(outboxFor(outbox, planId)).toEqual([
      `${planId}_first_reminder.eml`,
      `${planId}_payment_pay-${planId}_receipt.eml`,
      `${planId}_upcoming_notice.eml`,
    ]);
    expect((await planStatus({ db: db.db }, { planId })).status).toBe('resolved');
  });

  it('moves the steps ahead and what the reminders ask to what is still owed after one invoice is paid and another in part, neither skipping nor repeating a step', async () => {
    const now = await serverNow();
    const dueA = dateOffset(1, now);
    const dueB = dateOffset(6, now);
    const { planId } = await createPlan(db.db, {
      now,
      invoices: [
        { number: 'INV-A', amountMinor: 60_000, dueOn: dueA },
        { number: 'INV-B', amountMinor: 20_000, dueOn: dueB },
      ],
    });
    await initiate(planId);
    await env.sleep('5 days'); // due A + 4: the first reminder (due A + 3) asks for both invoices
    await waitForState(planId, (s) => step(s, 'first_reminder').status === 'completed', 'the first reminder');
    const first = await emailOf(planId, 'first_reminder');
    expect(first.subject).toBe('Reminder: $800.00 overdue for ' + first.account);
    expect(first.invoices).toEqual([
      `Invoice INV-A  due ${formatDate(dueA, 'en-US')}  open $600.00 of $600.00`,
      `Invoice INV-B  due ${formatDate(dueB, 'en-US')}  open $200.00 of $200.00`,
    ]);

    const before = await stateOf(planId);
    await reportPayment(ctx, { planId, paymentId: `pay-a-${planId}`, amountMinor: 60_000, invoiceNumber: 'INV-A' });
    await reportPayment(ctx, { planId, paymentId: `pay-a-${planId}`, amountMinor: 60_000, invoiceNumber: 'INV-A' }); // repeated report: ignored
    await reportPayment(ctx, { planId, paymentId: `pay-b-${planId}`, amountMinor: 5_000, invoiceNumber: 'INV-B' });
    let s = await waitForState(planId, (x) => x.outstandingMinor === 15_000, 'the payments to apply');
    // INV-A is paid: the steps ahead re-anchor on INV-B, due five calendar days later (the
    // account's zone is a fixed offset, so five days are 5 × 24 h); the first reminder stays run.
    const fiveDays = 5 * 86_400_000;
    for (const key of ['second_reminder', 'manual_escalation']) {
      expect(Date.parse(step(s, key).scheduledFor) - Date.parse(step(before, key).scheduledFor)).toBe(fiveDays);
    }
    expect(step(s, 'first_reminder')).toEqual(step(before, 'first_reminder'));
    expect((await planStatus({ db: db.db }, { planId })).timeline.filter((e) => e.kind === 'rescheduled')).toHaveLength(1);

    await env.sleep('8 days'); // due A + 12 = due B + 7: the second reminder (due B + 10) not yet
    expect(step(await stateOf(planId), 'second_reminder').status).toBe('waiting');
    await env.sleep('4 days'); // due B + 11: the second reminder asks only for what is left
    s = await waitForState(planId, (x) => step(x, 'second_reminder').status === 'completed', 'the second reminder');
    expect(s.status).toBe('in_progress');
    const second = await emailOf(planId, 'second_reminder');
    expect(second.subject).toBe('Second reminder: $150.00 still overdue for ' + second.account);
    expect(second.invoices).toEqual([`Invoice INV-B  due ${formatDate(dueB, 'en-US')}  open $150.00 of $200.00`]);
    expect(second.text).toContain('Total owed by ' + second.account + ': $150.00');

    await env.sleep('10 days'); // due B + 21: the escalation, once
    s = await waitForState(planId, (x) => step(x, 'manual_escalation').status === 'completed', 'the escalation');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ kind: 'manual_escalation', status: 'open' }]);
    const order = ['upcoming_notice', 'first_reminder', 'second_reminder', 'manual_escalation'].map((k) => Date.parse(step(s, k).completedAt!));
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    // Every message written for the plan, once each: no step repeated, and one receipt per payment.
    const writes = (await readOutboxDeliveries(outbox)).filter((w) => w.idempotencyKey.startsWith(`${planId}:`));
    expect(deliveriesPerKey(writes.map((w) => w.idempotencyKey))).toEqual({
      [`${planId}:upcoming_notice`]: 1,
      [`${planId}:first_reminder`]: 1,
      [`${planId}:payment:pay-a-${planId}:receipt`]: 1,
      [`${planId}:payment:pay-b-${planId}:receipt`]: 1,
      [`${planId}:second_reminder`]: 1,
    });
    const view = await planStatus({ db: db.db }, { planId });
    expect(view.outstandingMinor).toBe(15_000);
    expect(view.steps.map((x) => x.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('holds every send while paused and runs what fell due, in order, on resume', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 10_000, dueOn: dateOffset(2, now) }] });
    await initiate(planId);
    await waitForState(planId, (s) => step(s, 'upcoming_notice').status === 'completed', 'the upcoming notice');
    const paused = await pause(ctx, { planId, reason: 'dispute over INV-1' });
    expect(paused.status).toBe('on_hold');
    await env.sleep('30 days');
    let s = await stateOf(planId);
    expect(s.status).toBe('on_hold');
    expect(s.steps.filter((x) => x.status === 'completed').map((x) => x.key)).toEqual(['upcoming_notice']);
    expect(outboxFor(outbox, planId)).toHaveLength(1);

    await resume(ctx, { planId });
    s = await waitForState(planId, (x) => step(x, 'manual_escalation').status === 'completed', 'the overdue steps after resume');
    const order = ['first_reminder', 'second_reminder', 'manual_escalation'].map((k) => Date.parse(step(s, k).completedAt!));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(s.status).toBe('escalated');
    expect(outboxFor(outbox, planId)).toHaveLength(3);
    const kinds = (await planStatus({ db: db.db }, { planId })).timeline.map((e) => e.kind);
    expect(kinds.indexOf('paused')).toBeLessThan(kinds.indexOf('resumed'));
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('resumes by itself at the end of a pause with an end date, runs what fell due, then the next step on its day', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 10_000, dueOn: dateOffset(2, now) }] });
    await initiate(planId);
    await waitForState(planId, (s) => step(s, 'upcoming_notice').status === 'completed', 'the upcoming notice');
    // Past the first reminder's day (due + 3 at 09:00 local), before the second's (due + 10).
    const until = new Date(now.getTime() + 6 * 86_400_000).toISOString();
    const paused = await pause(ctx, { planId, reason: 'dispute over INV-1', until });
    expect(paused).toMatchObject({ status: 'on_hold', paused: { reason: 'dispute over INV-1', until } });

    await env.sleep('5 days'); // the first reminder fell due meanwhile; nothing is sent
    let s = await stateOf(planId);
    expect(s.status).toBe('on_hold');
    expect(outboxFor(outbox, planId)).toHaveLength(1);

    await env.sleep('2 days'); // past the end date: no rep resumed it
    s = await waitForState(planId, (x) => step(x, 'first_reminder').status === 'completed', 'the first reminder after the pause ends');
    expect(s.status).toBe('in_progress');
    expect(s.paused).toBeUndefined();
    expect(Date.parse(step(s, 'first_reminder').completedAt!)).toBeGreaterThanOrEqual(Date.parse(until));
    expect(step(s, 'second_reminder').status).toBe('waiting');
    const timeline = (await planStatus({ db: db.db }, { planId })).timeline;
    expect(timeline.filter((e) => e.kind === 'paused' || e.kind === 'resumed').map((e) => e.summary)).toEqual([
      `Paused: dispute over INV-1 (until ${isoMinute(until)} UTC)`,
      `Resumed automatically at the end of the pause (${isoMinute(until)} UTC)`,
    ]);

    await env.sleep('6 days'); // due + 11: the second reminder on its own day
    s = await waitForState(planId, (x) => step(x, 'second_reminder').status === 'completed', 'the second reminder');
    expect(outboxFor(outbox, planId)).toHaveLength(3);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('a pause with an end date still ends by a rep before it, and a payment in full still closes the plan', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 10_000, dueOn: dateOffset(20, now) }] });
    await initiate(planId);
    const inDays = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString();
    await pause(ctx, { planId, reason: 'dispute', until: inDays(5) });
    await env.sleep('1 day');
    expect(await resume(ctx, { planId })).toMatchObject({ status: 'in_progress' });
    await env.sleep('6 days'); // past the first end date: the pause it ended is over, nothing resumes again
    await pause(ctx, { planId, reason: 'dispute again', until: inDays(12) });
    await reportPayment(ctx, { planId, paymentId: `pay-${planId}`, amountMinor: 10_000 });
    const result = await handleFor(planId).result();
    expect(result.status).toBe('resolved');
    expect(result.paused).toBeUndefined();
    const summaries = (await planStatus({ db: db.db }, { planId })).timeline.map((e) => e.summary);
    expect(summaries.filter((summary) => summary.startsWith('Resumed'))).toEqual(['Resumed']);
  });

  it('cancels cleanly: remaining steps cancelled, nothing more sent', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 10_000, dueOn: dateOffset(3, now) }] });
    await initiate(planId);
    const state = await cancel(ctx, { planId, reason: 'billing error, invoices reissued' });
    expect(state.status).toBe('cancelled');
    const result = await handleFor(planId).result();
    expect(result.steps.slice(1).map((x) => x.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await env.sleep('40 days');
    expect(outboxFor(outbox, planId)).toHaveLength(1);
    await expect(pause(ctx, { planId, reason: 'too late' })).rejects.toThrow(/already cancelled/);
  });

  it('skips email to a contact who opted out and hands the plan to a rep', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 10_000, dueOn: dateOffset(1, now) }], consent: 'opted_out' });
    await initiate(planId);
    const s = await waitForState(planId, (x) => step(x, 'upcoming_notice').status === 'skipped', 'the skipped notice');
    expect(step(s, 'upcoming_notice').reason).toBe('contact opted out of email');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ kind: 'opted_out', status: 'open' }]);
    await env.sleep('15 days');
    const later = await waitForState(planId, (x) => step(x, 'second_reminder').status === 'skipped', 'the skipped reminders');
    expect(later.tasks).toHaveLength(1); // one hand-over, not one per step
    expect(outboxFor(outbox, planId)).toEqual([]);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('waits for the send window in a far time zone', async () => {
    const now = await serverNow();
    const timezone = zoneWhereLocalHourIs(2, now); // 02:xx local: the 08:00-21:00 window is shut
    const { planId } = await createPlan(db.db, {
      now, invoices: [{ amountMinor: 10_000, dueOn: dateOffset(10, now) }], timezone });
    await initiateDunning(ctx, { planId });
    const waiting = await waitForState(planId, (x) => step(x, 'upcoming_notice').notBefore !== undefined, 'the window to be applied');
    const notice = step(waiting, 'upcoming_notice');
    expect(notice.status).toBe('waiting');
    expect(localParts(new Date(notice.notBefore!), timezone)).toMatchObject({ hour: 8, minute: 0 });
    expect(outboxFor(outbox, planId)).toEqual([]);

    await env.sleep('7 hours');
    const sent = await waitForState(planId, (x) => step(x, 'upcoming_notice').status === 'completed', 'the notice at 08:00');
    expect(Date.parse(step(sent, 'upcoming_notice').completedAt!)).toBeGreaterThanOrEqual(Date.parse(notice.notBefore!));
    expect(localParts(new Date(step(sent, 'upcoming_notice').completedAt!), timezone).hour).toBe(8);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('runs the overdue steps at once, in order, when initiated after the due date', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, {
      now,
      invoices: [
        { number: 'OLD-1', amountMinor: 20_000, dueOn: dateOffset(-40, now) },
        { number: 'OLD-2', amountMinor: 5_000, dueOn: dateOffset(-12, now) },
      ],
    });
    await initiateDunning(ctx, { planId });
    const s = await waitForState(planId, (x) => step(x, 'manual_escalation').status === 'completed', 'every overdue step');
    const kinds = (await planStatus({ db: db.db }, { planId })).timeline.map((e) => e.kind);
    expect(kinds).toEqual(['initiated', 'email_sent', 'email_sent', 'email_sent', 'task_created', 'step']);
    const completions = s.steps.map((x) => Date.parse(x.completedAt!));
    expect([...completions].sort((a, b) => a - b)).toEqual(completions);
    expect(s.status).toBe('escalated');
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('lets a rep escalate, refuses a task that does not exist, and writes the plan off from a task', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, { now, invoices: [{ amountMinor: 99_000, dueOn: dateOffset(4, now) }] });
    await initiate(planId);
    const { taskId } = await escalate(ctx, { planId, reason: 'customer asked for a call' });
    let s = await stateOf(planId);
    expect(s.status).toBe('escalated');
    expect(s.tasks).toEqual([{ id: taskId, kind: 'rep_escalation', status: 'open', reason: 'customer asked for a call' }]);
    await expect(completeTask(ctx, { planId, taskId: 'no-such-task', outcome: 'done' })).rejects.toThrow(`The plan has no task "no-such-task".`);
    await expect(escalate(ctx, { planId, reason: '  ' })).rejects.toThrow('reason is required.');
    s = await completeTask(ctx, { planId, taskId, outcome: 'write_off' });
    expect(s.status).toBe('written_off');
    const result = await handleFor(planId).result();
    expect(result.tasks[0]).toMatchObject({ status: 'done', outcome: 'write_off' });
    const view = await planStatus({ db: db.db }, { planId });
    expect(view.status).toBe('written_off');
    expect(view.steps.slice(1).map((x) => x.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  });

  it('keeps the policy snapshot it started with when the policy is edited', async () => {
    const now = await serverNow();
    const name = `snapshot-${now.getTime()}`;
    await setPolicy(db.db, { ...standardPolicy, name });
    const { planId } = await createPlan(db.db, { now, invoices: [{ amountMinor: 7_500, dueOn: dateOffset(2, now) }] });
    await initiateDunning(ctx, { planId, policyName: name });
    await waitForState(planId, (s) => s.steps.length === 4, 'the journey to begin');
    await setPolicy(db.db, { ...standardPolicy, name, steps: [standardPolicy.steps[0]!, { key: 'call_now', action: 'task', at: 'P1D', from: 'initiated' }] });
    await env.sleep('25 days');
    const s = await waitForState(planId, (x) => step(x, 'manual_escalation').status === 'completed', 'the original steps');
    expect(s.steps.map((x) => x.key)).toEqual(['upcoming_notice', 'first_reminder', 'second_reminder', 'manual_escalation']);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('stops emailing a contact who opts out through the link mid-journey', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, { now, invoices: [{ amountMinor: 12_000, dueOn: dateOffset(1, now) }] });
    await initiate(planId);
    await waitForState(planId, (x) => step(x, 'upcoming_notice').status === 'completed', 'the notice');
    const contactId = (await loadPlanContext(db.db, planId))!.contact!.id;
    const notice = readFileSync(path.join(outbox, `${planId}_upcoming_notice.eml`), 'utf8');
    expect(notice).toContain(`List-Unsubscribe: <mailto:billing@dunning.local?subject=opt-out%20${contactId}>`);

    await setConsent({ db: db.db }, { contact: contactId, consent: 'opted_out' });
    await env.sleep('5 days');
    const s = await waitForState(planId, (x) => step(x, 'first_reminder').status === 'skipped', 'the skipped reminder');
    expect(step(s, 'first_reminder').reason).toBe('contact opted out of email');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ kind: 'opted_out', status: 'open' }]);
    expect(outboxFor(outbox, planId)).toEqual([`${planId}_upcoming_notice.eml`]);
    await cancel(ctx, { planId, reason: 'test done' });
  });

  it('answers a query and takes an update sent while the plan is still loading', async () => {
    const now = await serverNow();
    const { planId } = await createPlan(db.db, { now, invoices: [{ amountMinor: 8_000, dueOn: dateOffset(6, now) }] });
    await initiateDunning(ctx, { planId });
    await expect(stateOf(planId)).resolves.toMatchObject({ planId });
    const paused = await pause(ctx, { planId, reason: 'called in right away' });
    expect(paused).toMatchObject({ status: 'on_hold', paused: { reason: 'called in right away' } });
    expect(paused.steps).toHaveLength(4);
    await cancel(ctx, { planId, reason: 'test done' });
  });
});
