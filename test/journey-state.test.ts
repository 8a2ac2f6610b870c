// The plan's life without a server: statuses and transitions, promise rules, ids, timeline and
// notices of the Journey the workflow drives. Time is passed in, so every case is exact.
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { failureTypes } from '../workflows/domain/failures';
import { standardPolicy } from '../workflows/domain/policy';
import { Journey, type BegunPlan, type Work } from '../workflows/journey';
import type { StepState } from '../workflows/messages';

const DAY = 86_400_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (days: number) => new Date(T0 + days * DAY).toISOString();
const planId = 'plan-1';

// Notice, two reminders and the escalation task; two promises, two days' grace, within P60D.
const policy = standardPolicy;

function begun(owed = 100_000): BegunPlan {
  return {
    accountId: 'acct-1',
    currency: 'USD',
    currencyDigits: 2,
    outstandingMinor: owed,
    owedDisplay: `${(owed / 100).toFixed(2)} USD`,
    steps: policy.steps.map((s, ordinal) => ({ ...s, ordinal, scheduledFor: at(ordinal * 5) })),
  };
}

function started(owed = 100_000): Journey {
  const j = new Journey(planId, policy);
  j.begin(begun(owed), T0);
  return j;
}

/** Applies work the way the loop does: checked first, refused with the plan's sentence. */
function take(j: Journey, work: Work, now = T0) {
  const refused = j.refusal(work, now);
  if (refused) throw refused;
  switch (work.kind) {
    case 'escalate':
      return j.escalateByRep(work.reason, now);
    case 'pause':
      return j.pause(work.reason, now, { until: work.until });
    case 'resume':
      return j.resume(now);
    case 'completeTask':
      return j.completeTask(work.taskId, work.outcome, now);
    case 'cancel':
      return j.cancel(work.reason, now);
    case 'promise':
      return j.makePromise(work.request, now);
    case 'payment':
      throw new Error('payments go through paymentApplied');
  }
}

function pay(j: Journey, amountMinor: number, now = T0) {
  const owed = j.state.outstandingMinor - amountMinor;
  j.paymentApplied({ paymentId: `p-${now}-${amountMinor}`, amountMinor }, { applied: true, outstandingMinor: owed, amountDisplay: '', owedDisplay: '' }, now);
}

const sentence = (j: Journey, work: Work, now = T0) => j.refusal(work, now)?.message;

describe('journey: pause and resume', () => {
  it('restores the status the plan had before the pause', () => {
    const j = started();
    take(j, { kind: 'escalate', reason: 'call' });
    expect(j.state.status).toBe('escalated');
    take(j, { kind: 'pause', reason: 'dispute' });
    expect(j.state).toMatchObject({ status: 'on_hold', paused: { reason: 'dispute', since: at(0) } });
    take(j, { kind: 'resume' });
    expect(j.state.status).toBe('escalated');
    expect(j.state.paused).toBeUndefined();
  });

  it('an escalation while paused keeps the hold and is where resume returns to', () => {
    const j = started();
    take(j, { kind: 'pause', reason: 'dispute' });
    const taskId = take(j, { kind: 'escalate', reason: 'customer called' });
    expect(j.state.status).toBe('on_hold');
    expect(j.state.tasks).toEqual([{ id: taskId, kind: 'rep_escalation', status: 'open', reason: 'customer called' }]);
    take(j, { kind: 'resume' });
    expect(j.state.status).toBe('escalated');
  });

  it('a dispute outcome pauses like a rep pause, once, and resume returns to the status before', () => {
    const j = started();
    const taskId = take(j, { kind: 'escalate', reason: 'call' }) as string;
    take(j, { kind: 'completeTask', taskId, outcome: 'dispute' });
    expect(j.state).toMatchObject({ status: 'on_hold', paused: { reason: 'dispute' } });
    expect(j.takeEvents().map((e) => e.summary)).toContain(`Paused: dispute (task ${taskId})`);
    take(j, { kind: 'resume' });
    expect(j.state.status).toBe('escalated');
  });

  it('refuses a second pause and a resume of a plan that is not paused', () => {
    const j = started();
    expect(j.refusal({ kind: 'resume' }, T0)).toMatchObject({ type: failureTypes.NotPaused, message: 'The plan is not paused.' });
    take(j, { kind: 'pause', reason: 'dispute' });
    expect(j.refusal({ kind: 'pause', reason: 'again' }, T0)).toMatchObject({ type: failureTypes.AlreadyPaused, message: 'The plan is already paused (dispute).' });
  });

  it('a pause with an end date says when it ends, and resuming at that date says it was automatic', () => {
    const j = started();
    take(j, { kind: 'escalate', reason: 'call' });
    take(j, { kind: 'pause', reason: 'dispute', until: '2026-12-08T11:30:00+01:00' });
    expect(j.state).toMatchObject({ status: 'on_hold', paused: { reason: 'dispute', since: at(0), until: '2026-12-08T10:30:00.000Z' } });
    expect(j.pauseEnds()).toBe(Date.parse('2026-12-08T10:30:00Z'));
    j.resume(Date.parse('2026-12-08T10:30:00Z'), { automatic: true });
    expect(j.state.status).toBe('escalated');
    expect(j.pauseEnds()).toBeUndefined();
    expect(j.takeEvents().slice(-2).map((e) => e.summary)).toEqual([
      'Paused: dispute (until 2026-12-08 10:30 UTC)',
      'Resumed automatically at the end of the pause (2026-12-08 10:30 UTC)',
    ]);
  });

  it('refuses a pause whose end date is not ahead, or not a date', () => {
    const j = started();
    const refused = (until: string) => j.refusal({ kind: 'pause', reason: 'dispute', until }, T0);
    expect(refused(at(0))).toMatchObject({ type: failureTypes.InvalidArgument, message: 'The pause end date must be in the future.' });
    expect(refused('2020-01-01T00:00:00Z')?.message).toBe('The pause end date must be in the future.');
    expect(refused('next week')?.message).toBe('The pause end date must be a date-time, like 2026-12-15T17:00:00Z.');
    expect(refused(at(1))).toBeUndefined();
    expect(sentence(j, { kind: 'pause', reason: ' ', until: '2020-01-01T00:00:00Z' })).toBe('reason is required.');
  });
});

describe('journey: promises', () => {
  it('a promise holds the plan as promised; kept in full it resolves the plan when nothing is owed', () => {
    const j = started(50_000);
    const promise = take(j, { kind: 'promise', request: { amountMinor: 50_000, dueAt: at(5), rep: 'Rita' } });
    expect(promise).toMatchObject({ id: `${planId}:promise:1`, amountMinor: 50_000, dueOn: at(5), status: 'open', rep: 'Rita' });
    expect(j.state.status).toBe('promised');
    expect(j.nextStep()).toBeUndefined(); // the reminders hold
    expect(j.takeNotices()).toMatchObject([{ template: 'promise-confirmation', key: 'promise:1:confirmation', kind: 'transactional' }]);
    pay(j, 50_000);
    expect(j.state.promises[0]!.status).toBe('kept');
    expect(j.state.status).toBe('resolved');
    expect(j.state.steps.slice(1).map((s) => [s.status, s.reason])).toEqual(Array(3).fill(['skipped', 'nothing owed']));
  });

  it('a partial promise kept returns the plan to where it was, with the remainder owed', () => {
    const j = started(100_000);
    take(j, { kind: 'promise', request: { amountMinor: 40_000, dueAt: at(8) } });
    pay(j, 40_000);
    expect(j.state.promises[0]).toMatchObject({ status: 'kept', paidMinor: 40_000 });
    expect(j.state.status).toBe('in_progress');
    expect(j.state.outstandingMinor).toBe(60_000);
    expect(j.nextStep()?.key).toBe('upcoming_notice');
  });

  it('is checked on its date plus grace: unpaid, it breaks, escalates and owes a notice', () => {
    const j = started(50_000);
    const promise = take(j, { kind: 'promise', request: { amountMinor: 50_000, dueAt: at(3) } }) as { id: string };
    j.takeNotices();
    expect(j.nextPromiseCheck()).toEqual({ seq: 1, at: T0 + 5 * DAY });
    pay(j, 20_000);
    j.checkInstallment(1, T0 + 5 * DAY);
    expect(j.state.promises[0]).toMatchObject({ status: 'broken', paidMinor: 20_000, items: [{ status: 'broken' }] });
    expect(j.state.status).toBe('escalated');
    expect(j.state.tasks).toMatchObject([{ id: `${promise.id}:broken`, kind: 'promise_broken', status: 'open' }]);
    expect(j.takeNotices()).toMatchObject([{ template: 'payment-receipt' }, { template: 'promise-broken', key: 'promise:1:broken', kind: 'dunning' }]);
    expect(j.takeEvents().find((e) => e.kind === 'promise_broken')?.summary).toBe(
      `Promise ${promise.id}: installment 1 of 500.00 USD not paid (paid 200.00 USD of 500.00 USD due)`,
    );
  });

  it('monitors installments one by one: paid up to each date is kept so far, a missed one breaks the rest', () => {
    const j = started(30_000);
    take(j, {
      kind: 'promise',
      request: { installments: [{ amountMinor: 10_000, dueAt: at(5) }, { amountMinor: 10_000, dueAt: at(10) }, { amountMinor: 10_000, dueAt: at(15) }] },
    });
    pay(j, 10_000);
    expect(j.state.promises[0]!.items.map((i) => i.status)).toEqual(['kept', 'open', 'open']);
    expect(j.nextPromiseCheck()).toEqual({ seq: 2, at: T0 + 12 * DAY });
    j.checkInstallment(2, T0 + 12 * DAY);
    expect(j.state.promises[0]!.status).toBe('broken');
    expect(j.state.promises[0]!.items.map((i) => i.status)).toEqual(['kept', 'broken', 'cancelled']);
  });

  it('keeps an installment promise once every installment is paid on time', () => {
    const j = started(100_000);
    take(j, { kind: 'promise', request: { installments: [{ amountMinor: 10_000, dueAt: at(5) }, { amountMinor: 20_000, dueAt: at(10) }] } });
    pay(j, 10_000);
    j.checkInstallment(1, T0 + 7 * DAY);
    pay(j, 20_000);
    expect(j.state.promises[0]).toMatchObject({ status: 'kept', paidMinor: 30_000 });
    expect(j.state.status).toBe('in_progress');
  });

  it('a promise kept while the plan is on hold comes back at resume, not during the hold', () => {
    const j = started(100_000);
    take(j, { kind: 'promise', request: { amountMinor: 20_000, dueAt: at(5) } });
    take(j, { kind: 'pause', reason: 'dispute' });
    pay(j, 20_000);
    expect(j.state.status).toBe('on_hold');
    take(j, { kind: 'resume' });
    expect(j.state.status).toBe('in_progress');
  });

  it('refuses with a sentence a rep can read', () => {
    const j = started(20_000);
    const promise = (request: Extract<Work, { kind: 'promise' }>['request']) => sentence(j, { kind: 'promise', request });
    expect(promise({ amountMinor: 1_000, dueAt: at(-1) })).toBe('The promised date must be in the future.');
    expect(promise({ amountMinor: 20_001, dueAt: at(3) })).toBe('The promised amount is more than the 200.00 USD owed.');
    expect(promise({ amountMinor: 0, dueAt: at(3) })).toBe('A promised amount must be more than zero.');
    expect(promise({ amountMinor: 1_000, dueAt: at(90) })).toBe('The promised date must be within P60D of today.');
    expect(promise({ amountMinor: 1_000, dueAt: 'next week' })).toBe('"next week" is not a date.');
    expect(promise({ amountMinor: 1_000 })).toBe('A promise needs an amount and a date, or installments.');
    expect(promise({ installments: [{ amountMinor: 500, dueAt: at(5) }, { amountMinor: 500, dueAt: at(4) }] })).toBe('Installment dates must be in order.');
    expect(promise({ amountMinor: 900, installments: [{ amountMinor: 500, dueAt: at(4) }, { amountMinor: 500, dueAt: at(5) }] })).toBe(
      'The promised amount must equal the sum of the installments.',
    );
    take(j, { kind: 'pause', reason: 'dispute' });
    expect(promise({ amountMinor: 1_000, dueAt: at(3) })).toBe('The plan is paused (dispute); resume it before recording a promise.');
    take(j, { kind: 'resume' });
    take(j, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(3) } });
    const refused = j.refusal({ kind: 'promise', request: { amountMinor: 1_000, dueAt: at(4) } }, T0);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: failureTypes.PromiseRefused, message: `Promise ${planId}:promise:1 is still open.` });
    j.checkInstallment(1, T0 + 5 * DAY);
    take(j, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(8) } }, T0 + 5 * DAY);
    j.checkInstallment(1, T0 + 10 * DAY);
    expect(sentence(j, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(12) } }, T0 + 10 * DAY)).toBe('The plan has reached its limit of 2 promises.');
  });

  it('a second promise taken in the same turn as the first is refused by the same check', () => {
    const j = started(50_000);
    const first: Work = { kind: 'promise', request: { amountMinor: 10_000, dueAt: at(5) } };
    const second: Work = { kind: 'promise', request: { amountMinor: 20_000, dueAt: at(6) } };
    // Both pass against the state before either runs (what a validator sees)...
    expect([j.refusal(first, T0), j.refusal(second, T0)]).toEqual([undefined, undefined]);
    take(j, first);
    // ...and the loop's check of the second sees the first.
    expect(sentence(j, second)).toBe(`Promise ${planId}:promise:1 is still open.`);
  });
});

describe('journey: ids never repeat', () => {
  it('numbers rep escalations after every task, whatever else is queued', () => {
    const j = started();
    j.taskStepDone(j.state.steps[3]!, T0); // the manual escalation step's task
    const ids = [take(j, { kind: 'escalate', reason: 'a' }), take(j, { kind: 'escalate', reason: 'b' }), take(j, { kind: 'escalate', reason: 'c' })];
    expect(ids).toEqual([`${planId}:rep_escalation:2`, `${planId}:rep_escalation:3`, `${planId}:rep_escalation:4`]);
    expect(new Set(j.state.tasks.map((t) => t.id)).size).toBe(4);
  });

  it('carries its counters across continue-as-new', () => {
    const j = started();
    take(j, { kind: 'escalate', reason: 'a' });
    take(j, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(3) } });
    const next = new Journey(planId, policy, structuredClone(j.carry()));
    expect(next.carry()).toMatchObject({ repEscalationSeq: 1, promiseSeq: 1, timelineSeq: j.carry().timelineSeq });
    expect(take(next, { kind: 'escalate', reason: 'b' })).toBe(`${planId}:rep_escalation:2`);
  });

  it('resumes past the highest ids for runs carried before the counters existed', () => {
    const j = started(100_000);
    take(j, { kind: 'escalate', reason: 'a' });
    take(j, { kind: 'escalate', reason: 'b' });
    take(j, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(3) } });
    j.checkInstallment(1, T0 + 5 * DAY);
    // An older run's carried state has no counters. With only rep_escalation:2 among its tasks,
    // the task count alone would hand out :2 again; the highest id present says :3.
    const { repEscalationSeq: _r, promiseSeq: _p, ...older } = structuredClone(j.carry());
    older.state.tasks = older.state.tasks.filter((t) => t.id === `${planId}:rep_escalation:2`);
    const next = new Journey(planId, policy, older);
    expect(take(next, { kind: 'escalate', reason: 'c' })).toBe(`${planId}:rep_escalation:3`);
    expect((take(next, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(8) } }, T0 + 5 * DAY) as { id: string }).id).toBe(`${planId}:promise:2`);
  });

  it('ignores a payment id it has seen, also after continue-as-new', () => {
    const j = started();
    expect(j.isNewPayment('P-1')).toBe(true);
    expect(j.isNewPayment('P-1')).toBe(false);
    expect(new Journey(planId, policy, j.carry()).isNewPayment('P-1')).toBe(false);
  });
});

describe('journey: closing', () => {
  it('a cancel cancels open steps, tasks and promises, and refuses what comes after', () => {
    const j = started();
    take(j, { kind: 'escalate', reason: 'call' });
    take(j, { kind: 'promise', request: { amountMinor: 1_000, dueAt: at(3) } });
    take(j, { kind: 'cancel', reason: 'account closed' });
    expect(j.state).toMatchObject({ status: 'cancelled', closedReason: 'account closed' });
    expect(j.state.steps.map((s) => s.status)).toEqual(Array(4).fill('cancelled'));
    expect(j.state.tasks.map((t) => [t.status, t.outcome])).toEqual([['cancelled', 'plan cancelled']]);
    expect(j.state.promises.map((p) => [p.status, p.items[0]!.status])).toEqual([['cancelled', 'cancelled']]);
    for (const work of [{ kind: 'escalate', reason: 'x' }, { kind: 'cancel', reason: 'x' }, { kind: 'resume' }] as Work[]) {
      expect(j.refusal(work, T0)).toMatchObject({ type: failureTypes.PlanClosed, message: 'The plan is already cancelled.' });
    }
    expect(j.nextStep()).toBeUndefined();
  });

  it('paid in full settles the open promise as kept and skips what is left', () => {
    const j = started(30_000);
    take(j, { kind: 'promise', request: { amountMinor: 10_000, dueAt: at(3) } });
    pay(j, 30_000);
    expect(j.state.status).toBe('resolved');
    expect(j.state.promises[0]!.status).toBe('kept');
    expect(j.state.steps.every((s) => s.status === 'skipped' && s.reason === 'nothing owed')).toBe(true);
  });

  it('a write-off outcome writes the plan off and lifts a hold', () => {
    const j = started();
    const taskId = take(j, { kind: 'escalate', reason: 'call' }) as string;
    take(j, { kind: 'pause', reason: 'dispute' });
    take(j, { kind: 'completeTask', taskId, outcome: 'write_off' });
    expect(j.state).toMatchObject({ status: 'written_off', paused: undefined });
    expect(j.state.tasks[0]).toMatchObject({ status: 'done', outcome: 'write_off' });
  });

  it('nothing owed at initiation resolves at once', () => {
    const j = started(0);
    expect(j.state.status).toBe('resolved');
    expect(j.takeEvents().map((e) => e.kind)).toEqual(['initiated', 'resolved']);
  });
});

describe('journey: re-anchoring on what is still owed', () => {
  it('moves only the steps still ahead, forgets a send-window delay, and says so once', () => {
    const j = started();
    const [notice, first, second, task] = j.state.steps as [StepState, StepState, StepState, StepState];
    j.startStep(notice, T0);
    j.stepEmailed(notice, { outcome: 'sent', to: 'a@b.example', subject: 'Upcoming', outstandingMinor: 100_000 }, T0);
    j.stepEmailed(first, { outcome: 'outside_window', retryAt: at(5.5), outstandingMinor: 100_000 }, T0);
    j.takeEvents();
    // The calendar a payment answered: every step five days later, the notice's time included.
    const schedule = { dueOn: '2026-12-20', steps: j.state.steps.map((s) => ({ key: s.key, scheduledFor: new Date(Date.parse(s.scheduledFor) + 5 * DAY).toISOString() })) };
    const moves = j.scheduleMoves(schedule);
    expect(moves.map((m) => m.step.key)).toEqual(['first_reminder', 'second_reminder', 'manual_escalation']);
    j.reanchor(schedule.dueOn, moves, T0);
    expect(notice.scheduledFor).toBe(at(0)); // run already: never moved, never run again
    expect([first.scheduledFor, second.scheduledFor, task.scheduledFor]).toEqual([at(10), at(15), at(20)]);
    expect(first.notBefore).toBeUndefined();
    expect(j.takeEvents().map((e) => [e.kind, e.summary])).toEqual([
      ['rescheduled', `Steps ahead follow the earliest invoice still open, due 2026-12-20: first reminder on ${at(10).slice(0, 16).replace('T', ' ')} UTC, second reminder on ${at(15).slice(0, 16).replace('T', ' ')} UTC, manual escalation on ${at(20).slice(0, 16).replace('T', ' ')} UTC`],
    ]);
    // The same calendar again (a second partial payment on the same invoice) moves nothing.
    expect(j.scheduleMoves(schedule)).toEqual([]);
  });

  it('moves nothing once the plan is closed, or when the payment answered no calendar', () => {
    const j = started();
    expect(j.scheduleMoves(undefined)).toEqual([]);
    take(j, { kind: 'cancel', reason: 'billing error' });
    expect(j.scheduleMoves({ dueOn: '2026-12-20', steps: [{ key: 'first_reminder', scheduledFor: at(30) }] })).toEqual([]);
  });
});

describe('journey: step outcomes and records', () => {
  it('no contact email files a no_contact task; opted out files an opted_out task', () => {
    const j = started();
    const [notice, reminder] = j.state.steps;
    j.stepEmailed(notice!, { outcome: 'no_contact', outstandingMinor: 100_000 }, T0);
    j.stepEmailed(reminder!, { outcome: 'opted_out', outstandingMinor: 100_000 }, T0);
    expect(j.state.tasks.map((t) => [t.id, t.kind])).toEqual([
      [`${planId}:no_contact`, 'no_contact'],
      [`${planId}:opted_out`, 'opted_out'],
    ]);
    expect(j.state.steps.slice(0, 2).map((s) => [s.status, s.completedAt])).toEqual([
      ['skipped', at(0)],
      ['skipped', at(0)],
    ]);
    expect(j.state.status).toBe('escalated');
  });

  it('a send outside the window waits; a sent one completes with its address on the timeline', () => {
    const j = started();
    const step = j.state.steps[0]!;
    j.stepEmailed(step, { outcome: 'outside_window', retryAt: at(1), outstandingMinor: 100_000 }, T0);
    expect(step).toMatchObject({ status: 'waiting', notBefore: at(1) });
    expect(j.nextStep()).toBe(step);
    j.stepEmailed(step, { outcome: 'sent', to: 'pat@example.com', subject: 'Hello', outstandingMinor: 90_000 }, T0 + DAY);
    expect(step).toMatchObject({ status: 'completed', completedAt: at(1), reason: 'email sent to pat@example.com' });
    expect(j.state.outstandingMinor).toBe(90_000);
  });

  it('records a timeline in order with idempotency keys, handed out once', () => {
    const j = started();
    take(j, { kind: 'pause', reason: 'dispute' }, T0 + 1000);
    const events = j.takeEvents();
    expect(events.map((e) => [e.seq, e.kind, e.key])).toEqual([
      [1, 'initiated', 'initiated'],
      [2, 'paused', 'paused:2'],
    ]);
    expect(events[1]!.at).toBe(new Date(T0 + 1000).toISOString());
    expect(j.takeEvents()).toEqual([]);
  });

  it('describes the plan for the Temporal UI', () => {
    const j = started();
    expect(j.describe().split('\n').slice(0, 5)).toEqual([
      '**in_progress** · 1000.00 USD owed',
      '',
      '| step | action | status | scheduled (UTC) | reason |',
      '|---|---|---|---|---|',
      '| upcoming_notice | email | pending | 2026-12-01 10:00 |  |',
    ]);
  });
});
