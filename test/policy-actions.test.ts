// What a policy can do beyond reminders and tasks, on real journeys (dev server, PostgreSQL):
// end dunning with an action, add a late fee in a step's email, and cap how often one contact
// is emailed across all their plans.
import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities';
import type { Mailer } from '../activities/mail';
import { cancel, initiateDunning } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { agencyHandoffs, collectionPlans, contacts, emailMessages, invoices, planEvents, timelineEvents } from '../db/schema';
import type { DunningPolicy, PolicyStep } from '../workflows/domain/policy';
import { createPlan, eventually, secondsPolicy, stepOf, waitForPlanState } from './fixtures';
import { capturingMailer, startTestStack, type TestStack } from './support';

let stack: TestStack;
const run = randomUUID().slice(0, 6);
/** Every email the engine sent, as the provider would have it. */
const { mailer, sent } = capturingMailer();
const ctx = () => ({ client: stack.client, db: stack.db.db, config: stack.config });
const plan = (amountMinor = 30_000) => createPlan(stack.db.db, { invoices: [{ amountMinor, dueOn: '2026-01-15', issuedOn: '2026-01-01' }] });
const timelineOf = (planId: string) =>
  stack.db.db.select().from(timelineEvents).where(eq(timelineEvents.planId, planId)).orderBy(asc(timelineEvents.seq));
const emailsOf = (planId: string) => sent.filter((e) => e.idempotencyKey.startsWith(`${planId}:`));

beforeAll(async () => {
  stack = await startTestStack('policy-actions', { mailer });
});
afterAll(async () => {
  await stack?.close();
});

describe('end-of-dunning actions', () => {
  const endStep = (action: PolicyStep['action']): PolicyStep => ({ key: 'end_of_dunning', action, at: 'PT2S', from: 'initiated' });

  it.each([
    ['write_off', 'written_off'],
    ['send_to_agency', 'sent_to_agency'],
    ['cancel_service', 'service_cancelled'],
  ] as const)('%s as the last step closes the plan as %s, and its event goes out', async (action, status) => {
    const policy = secondsPolicy(`end-${action.replace(/_/g, '-')}-${run}`, { upcoming_notice: 0 });
    policy.steps.push(endStep(action));
    await setPolicy(ctx(), { policy });
    const { planId, accountId } = await plan(12_345);
    await initiateDunning(ctx(), { planId, policyName: policy.name });

    const state = await waitForPlanState(stack.client, planId, (s) => s.status === status, status);
    expect(stepOf(state, 'end_of_dunning')).toMatchObject({ status: 'completed' });
    // The journey's state answers before its sync lands: wait for the database to close the plan.
    const row = await eventually(async () => {
      const [r] = await stack.db.db.select().from(collectionPlans).where(eq(collectionPlans.id, planId));
      return r?.status === status ? r : undefined;
    }, `plan ${planId} ${status} in the database`);
    expect(row.closedAt).not.toBeNull();
    const closing = (await timelineOf(planId)).at(-1)!;
    expect(closing).toMatchObject({ kind: status, summary: `Plan ${status.replace(/_/g, ' ')}: the policy's last step, end_of_dunning (${action.replace(/_/g, ' ')})` });

    const events = await stack.db.db.select().from(planEvents).where(eq(planEvents.planId, planId)).orderBy(asc(planEvents.position));
    expect(events.map((e) => e.type)).toEqual(['plan.initiated', 'plan.step_completed', `plan.${status}`]);
    expect((events.at(-1)!.body as { data: Record<string, unknown> }).data).toMatchObject({ status, owedMinor: 12_345, accountId });

    const handoffs = await stack.db.db.select().from(agencyHandoffs).where(eq(agencyHandoffs.planId, planId));
    if (action === 'send_to_agency') {
      expect(handoffs).toEqual([
        {
          planId,
          accountId,
          currency: 'USD',
          owedMinor: 12_345,
          items: [{ number: 'INV-1', kind: 'invoice', dueOn: '2026-01-15', openMinor: 12_345 }],
          handedOffAt: expect.any(Date),
        },
      ]);
    } else {
      expect(handoffs).toEqual([]);
    }
    // Closed: a rep's action is refused, as after any close.
    await expect(cancel(ctx(), { planId, reason: 'too late' })).rejects.toThrow(`Plan "${planId}" is already ${status}.`);
  });

  it('refuses an end action anywhere but last', async () => {
    const policy = secondsPolicy(`end-early-${run}`, { upcoming_notice: 5 });
    policy.steps.unshift(endStep('write_off'));
    await expect(setPolicy(ctx(), { policy })).rejects.toThrow(
      'Invalid policy field "steps": an end action (write_off, send_to_agency, cancel_service) must be the last step: the plan closes with it.',
    );
  });
});

describe('late fees', () => {
  const feePolicy = (): DunningPolicy => {
    const policy = secondsPolicy(`fees-${run}`, { first_reminder: 0, second_reminder: 2 });
    policy.steps[0]!.fee = { fixedMinor: 1_500 };
    policy.steps[1]!.fee = { percent: 10, capMinor: 2_000 };
    return policy;
  };

  it('adds each step\'s fee to what is owed, shown in that step\'s email and on the timeline', async () => {
    const policy = feePolicy();
    await setPolicy(ctx(), { policy });
    const { planId } = await plan(30_000);
    await initiateDunning(ctx(), { planId, policyName: policy.name });
    const state = await waitForPlanState(stack.client, planId, (s) => stepOf(s, 'second_reminder').status === 'completed', 'both reminders');
    // 30,000 + 1,500 fixed + 10 % of the invoices' 30,000 capped at 2,000.
    expect(state.outstandingMinor).toBe(33_500);

    const [first, second] = emailsOf(planId);
    expect(first!.text).toContain(`Late fee: first reminder (${planId})`);
    expect(first!.text).toContain('Total owed by');
    expect(first!.text).toContain('$315.00');
    expect(first!.text).not.toContain('Late fee: second reminder');
    expect(second!.text).toContain(`Late fee: second reminder (${planId})`);
    expect(second!.text).toContain('$335.00');
    expect(second!.html).toContain(`Late fee: first reminder (${planId})`);

    // The journey's state answers at once; its timeline reaches the database with the next sync.
    const expected = ['Step first_reminder: late fee of $15.00 added to what is owed', 'Step second_reminder: late fee of $20.00 added to what is owed'];
    const fees = await eventually(async () => {
      const found = (await timelineOf(planId)).filter((t) => t.kind === 'fee').map((t) => t.summary);
      return found.length >= expected.length ? found : undefined;
    }, 'both fees on the timeline');
    expect(fees).toEqual(expected);
  });

  it('adds a step\'s fee once, however often the step\'s send is retried', async () => {
    const policy = feePolicy();
    const { planId, accountId } = await plan(30_000);
    let calls = 0;
    const flaky: Mailer = {
      async send() {
        calls++;
        if (calls < 3) throw new Error('provider timed out');
        return { provider: 'outbox', messageId: 'msg-retried' };
      },
    };
    const activities = createActivities({ db: stack.db.db, mailer: flaky, clock: { now: () => new Date() }, config: stack.config });
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const input = { planId, stepKey: 'first_reminder', template: 'first-reminder', at: new Date().toISOString(), fee: policy.steps[0]!.fee };
    for (let i = 0; i < 2; i++) await expect(env.run(activities.sendStepEmail, input)).rejects.toThrow('provider timed out');
    await expect(env.run(activities.sendStepEmail, input)).resolves.toMatchObject({ outcome: 'sent', outstandingMinor: 31_500, fee: { amountMinor: 1_500 } });
    const fees = await stack.db.db.select().from(invoices).where(and(eq(invoices.accountId, accountId), eq(invoices.kind, 'late_fee')));
    expect(fees.map((f) => f.amountMinor)).toEqual([1_500]);
  });

  it('refuses a fee over its cap, a fee of both kinds, and a fee on a step without an email', async () => {
    const refused = async (step: Partial<PolicyStep>, sentence: string) => {
      const policy = secondsPolicy(`fee-bad-${run}`, { first_reminder: 0 });
      Object.assign(policy.steps[0]!, step);
      await expect(setPolicy(ctx(), { policy })).rejects.toThrow(sentence);
    };
    await refused({ fee: { fixedMinor: 5_000, capMinor: 2_000 } }, 'Invalid policy field "steps.0.fee": fixedMinor is over capMinor: the fee could never be charged in full.');
    await refused({ fee: { fixedMinor: 500, percent: 5 } }, 'Invalid policy field "steps.0.fee": must have either fixedMinor or percent, not both.');
    await refused({ fee: { percent: 0 } }, 'Invalid policy field "steps.0.fee.percent": must be more than 0.');
    await refused({ action: 'task', template: undefined, fee: { fixedMinor: 500 } }, 'Invalid policy field "steps.0.fee": only an email step may add a fee (it is shown in that email).');
  });
});

describe('contact caps', () => {
  it('holds one contact\'s dunning emails, across their plans, to the cap in any rolling window, and says so', async () => {
    const per = 12;
    const policy = secondsPolicy(`capped-${run}`, { upcoming_notice: 0, first_reminder: 1 }, { contactCap: { channel: 'email', max: 3, per: `PT${per}S` } });
    await setPolicy(ctx(), { policy });
    const plans = [await plan(), await plan()];
    const address = `capped+${run}@example.com`;
    await stack.db.db.update(contacts).set({ email: address }).where(inArray(contacts.accountId, plans.map((p) => p.accountId)));
    for (const p of plans) await initiateDunning(ctx(), { planId: p.planId, policyName: policy.name });

    for (const p of plans) {
      await waitForPlanState(stack.client, p.planId, (s) => stepOf(s, 'first_reminder').status === 'completed', 'the first reminder, once the cap allows it');
    }
    const times = (
      await stack.db.db
        .select({ sentAt: emailMessages.sentAt })
        .from(emailMessages)
        .where(and(eq(emailMessages.toAddress, address), eq(emailMessages.status, 'sent')))
        .orderBy(asc(emailMessages.sentAt))
    ).map((m) => m.sentAt!.getTime());
    expect(times).toHaveLength(4);
    // No window of `per` seconds holds more than three: the fourth went out after the first left it.
    expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(per * 1000);

    const capped = (await Promise.all(plans.map((p) => timelineOf(p.planId)))).flat().filter((t) => t.kind === 'email_capped');
    expect(capped.length).toBeGreaterThanOrEqual(1);
    expect(capped[0]!.summary).toMatch(new RegExp(`^Step (upcoming_notice|first_reminder): contact cap reached \\(3 emails per PT${per}S\\); waits until \\d{4}-`));
  }, 60_000);

  it('refuses a cap of 0', async () => {
    const policy = secondsPolicy(`cap-zero-${run}`, { first_reminder: 0 }, { contactCap: { channel: 'email', max: 0, per: 'P7D' } });
    await expect(setPolicy(ctx(), { policy })).rejects.toThrow(
      'Invalid policy field "contactCap.max": must be at least 1 (a cap of 0 would never send: remove the email steps instead).',
    );
  });
});
