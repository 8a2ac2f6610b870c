// Promises to pay over real calendar days on the time-skipping server: kept, kept late within
// grace, broken, partially paid, installments, the limit, and refusals with their reasons.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancel, initiateDunning, pause, recordPromise, reportPayment, resume } from '../client/dunning';
import { planStatus } from '../client/status';
import { workflowIdFor, type PlanState } from '../workflows/messages';
import type { dunningWorkflow } from '../workflows/dunning';
import { createPlan, dateOffset, outboxFor, stepOf, waitForPlanState } from './fixtures';
import { startTimeSkippingStack, type TimeSkippingStack } from './support';

let stack: TimeSkippingStack;
beforeAll(async () => {
  stack = await startTimeSkippingStack('promises');
});
afterAll(async () => {
  await stack?.close();
});

const DAY = 86_400_000;
const waitFor = (planId: string, ok: (s: PlanState) => boolean, what: string) => waitForPlanState(stack.env.client, planId, ok, what);
const inDays = (now: Date, days: number) => new Date(now.getTime() + days * DAY).toISOString();
let payments = 0;
const pay = (planId: string, amountMinor: number) => reportPayment(stack.ctx, { planId, paymentId: `pay-${planId}-${++payments}`, amountMinor });

/** A plan owing `owed`, due in `dueInDays`, initiated and past its upcoming notice. */
async function startedPlan(owed: number, dueInDays = 2) {
  const now = await stack.now();
  const { planId } = await createPlan(stack.db.db, { now, invoices: [{ amountMinor: owed, dueOn: dateOffset(dueInDays, now) }] });
  await initiateDunning(stack.ctx, { planId });
  await waitFor(planId, (s) => stepOf(s, 'upcoming_notice').status === 'completed', 'the upcoming notice');
  return { planId, now };
}

describe('promises to pay (time-skipping)', () => {
  it('keeps a partial promise paid on time, holds reminders meanwhile, then resumes the journey', async () => {
    const { planId, now } = await startedPlan(100_000);
    const { promiseId, status } = await recordPromise(stack.ctx, { planId, amountMinor: 40_000, dueAt: inDays(now, 8), rep: 'Rita' });
    expect(status).toBe('promised');
    await stack.env.sleep('6 days'); // past the first reminder's day (due + 3): held by the promise
    let s = await waitFor(planId, (x) => x.status === 'promised', 'the promise');
    expect(stepOf(s, 'first_reminder').status).not.toBe('completed');
    await pay(planId, 40_000);
    s = await waitFor(planId, (x) => x.promises[0]?.status === 'kept', 'the promise to be kept');
    expect(s.status).toBe('in_progress');
    expect(s.promises[0]).toMatchObject({ id: promiseId, paidMinor: 40_000, rep: 'Rita' });
    // The journey resumes where it stood: the overdue first reminder goes out now, for what is left.
    s = await waitFor(planId, (x) => stepOf(x, 'first_reminder').status === 'completed', 'the held reminder');
    expect(s.outstandingMinor).toBe(60_000);
    const view = await planStatus({ db: stack.db.db }, { planId });
    expect(view.promises).toMatchObject([{ id: promiseId, amountMinor: 40_000, status: 'kept', schedule: [{ seq: 1, status: 'kept' }] }]);
    expect(view.timeline.map((e) => e.kind)).toEqual(expect.arrayContaining(['promise_made', 'payment', 'promise_kept']));
    await cancel(stack.ctx, { planId, reason: 'test done' });
  });

  it('keeps a promise paid late but within the grace period', async () => {
    const { planId, now } = await startedPlan(50_000);
    await recordPromise(stack.ctx, { planId, amountMinor: 50_000, dueAt: inDays(now, 3) });
    await stack.env.sleep('4 days'); // one day late; grace is two
    expect((await waitFor(planId, () => true, 'state')).promises[0]!.status).toBe('open');
    await pay(planId, 50_000);
    const result = await stack.env.client.workflow.getHandle<typeof dunningWorkflow>(workflowIdFor(planId)).result();
    expect(result.status).toBe('resolved');
    expect(result.promises[0]!.status).toBe('kept');
  });

  it('breaks an unpaid promise after the grace period and escalates to a rep', async () => {
    const { planId, now } = await startedPlan(50_000, 20);
    const { promiseId } = await recordPromise(stack.ctx, { planId, amountMinor: 50_000, dueAt: inDays(now, 3) });
    await stack.env.sleep('4 days');
    expect((await waitFor(planId, () => true, 'state')).promises[0]!.status).toBe('open'); // still in grace
    await stack.env.sleep('2 days');
    const s = await waitFor(planId, (x) => x.promises[0]?.status === 'broken', 'the promise to break');
    expect(s.status).toBe('escalated');
    expect(s.tasks).toMatchObject([{ id: `${promiseId}:broken`, kind: 'promise_broken', status: 'open' }]);
    const view = await planStatus({ db: stack.db.db }, { planId });
    expect(view.timeline.map((e) => e.kind)).toContain('promise_broken');
    await cancel(stack.ctx, { planId, reason: 'test done' });
  });

  it('breaks a partly paid promise, leaving the remainder owed', async () => {
    const { planId, now } = await startedPlan(100_000, 20);
    await recordPromise(stack.ctx, { planId, amountMinor: 100_000, dueAt: inDays(now, 3) });
    await stack.env.sleep('1 day');
    await pay(planId, 40_000);
    await stack.env.sleep('5 days');
    const s = await waitFor(planId, (x) => x.promises[0]?.status === 'broken', 'the promise to break');
    expect(s.outstandingMinor).toBe(60_000);
    expect(s.promises[0]!.paidMinor).toBe(40_000);
    expect(s.status).toBe('escalated');
    await cancel(stack.ctx, { planId, reason: 'test done' });
  });

  it('monitors each installment on its own date and breaks on the missed second one', async () => {
    const { planId, now } = await startedPlan(30_000, 40);
    await recordPromise(stack.ctx, {
      planId,
      installments: [
        { amountMinor: 10_000, dueAt: inDays(now, 5) },
        { amountMinor: 10_000, dueAt: inDays(now, 10) },
        { amountMinor: 10_000, dueAt: inDays(now, 15) },
      ],
    });
    await stack.env.sleep('4 days');
    await pay(planId, 10_000);
    await stack.env.sleep('4 days'); // past the first installment's date + grace
    let s = await waitFor(planId, (x) => x.promises[0]!.items[0]!.status === 'kept', 'the first installment');
    expect(s.promises[0]!.status).toBe('open');
    await stack.env.sleep('5 days'); // past the second's date + grace, unpaid
    s = await waitFor(planId, (x) => x.promises[0]?.status === 'broken', 'the promise to break');
    expect(s.promises[0]!.items.map((i) => i.status)).toEqual(['kept', 'broken', 'cancelled']);
    expect(s.outstandingMinor).toBe(20_000);
    const view = await planStatus({ db: stack.db.db }, { planId });
    expect(view.promises[0]!.schedule.map((i) => i.status)).toEqual(['kept', 'broken', 'cancelled']);
    await cancel(stack.ctx, { planId, reason: 'test done' });
  });

  it('refuses promises with a reason a rep can read, and enforces the limit', async () => {
    const { planId, now } = await startedPlan(20_000, 40);
    const refused = (input: Omit<Parameters<typeof recordPromise>[1], 'planId'>) => recordPromise(stack.ctx, { planId, ...input });
    await expect(refused({ amountMinor: 1_000, dueAt: inDays(now, -1) })).rejects.toThrow('The promised date must be in the future.');
    await expect(refused({ amountMinor: 20_001, dueAt: inDays(now, 3) })).rejects.toThrow('The promised amount is more than the 200.00 USD owed.');
    await expect(refused({ amountMinor: 0, dueAt: inDays(now, 3) })).rejects.toThrow('A promised amount must be more than zero.');
    await expect(refused({ amountMinor: 1_000, dueAt: inDays(now, 90) })).rejects.toThrow('The promised date must be within P60D of today.');

    await pause(stack.ctx, { planId, reason: 'dispute' });
    await expect(refused({ amountMinor: 1_000, dueAt: inDays(now, 3) })).rejects.toThrow(/The plan is paused \(dispute\)/);
    await resume(stack.ctx, { planId });

    for (let n = 1; n <= 2; n++) {
      const t = await stack.now();
      await recordPromise(stack.ctx, { planId, amountMinor: 1_000, dueAt: inDays(t, 1) });
      await expect(refused({ amountMinor: 1_000, dueAt: inDays(t, 2) })).rejects.toThrow(/is still open/);
      await stack.env.sleep('4 days');
      await waitFor(planId, (x) => x.promises[n - 1]?.status === 'broken', `promise ${n} to break`);
    }
    await expect(refused({ amountMinor: 1_000, dueAt: inDays(await stack.now(), 3) })).rejects.toThrow('The plan has reached its limit of 2 promises.');
    expect((await planStatus({ db: stack.db.db }, { planId })).promises).toHaveLength(2);
    await cancel(stack.ctx, { planId, reason: 'test done' });
  });

  it('sends nothing more after a promise made while waiting for the second reminder is kept', async () => {
    const { planId, now } = await startedPlan(70_000, 1);
    await stack.env.sleep('5 days'); // first reminder at due + 3 has gone out
    await waitFor(planId, (x) => stepOf(x, 'first_reminder').status === 'completed', 'the first reminder');
    await recordPromise(stack.ctx, { planId, amountMinor: 70_000, dueAt: inDays(now, 12) });
    await stack.env.sleep('6 days'); // second reminder's day (due + 10) passes, held
    await pay(planId, 70_000);
    const s = await waitFor(planId, (x) => x.status === 'resolved', 'the plan to resolve');
    expect(s.promises[0]!.status).toBe('kept');
    expect(stepOf(s, 'second_reminder')).toMatchObject({ status: 'skipped', reason: 'nothing owed' });
    await stack.env.sleep('30 days');
    expect(outboxFor(stack.outboxDir, planId)).toEqual([
      `${planId}_first_reminder.eml`,
      `${planId}_payment_pay-${planId}-${payments}_receipt.eml`,
      `${planId}_promise_1_confirmation.eml`,
      `${planId}_upcoming_notice.eml`,
    ]);
  });
});
