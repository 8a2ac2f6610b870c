// Partial payments between every pair of steps, on the real stack: each email asks for what is
// still owed at its moment, the promise limit follows it, and no step is skipped or repeated
// (Kill Bill's overdue engine skips states after partial payments: the lesson in DESIGN.md).
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initiateDunning, recordPromise, reportPayment } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { emailMessages, orchestrationSteps } from '../db/schema';
import { createPlan, eventually, secondsPolicy, stepOf, waitForPlanState } from './fixtures';
import { capturingMailer, startTestStack, type TestStack } from './support';

let stack: TestStack;
const run = randomUUID().slice(0, 6);
/** Every email the engine sent, as the provider would have it. */
const { mailer, sent } = capturingMailer();
const ctx = () => ({ client: stack.client, db: stack.db.db, config: stack.config });
const steps = ['upcoming_notice', 'first_reminder', 'second_reminder', 'manual_escalation'] as const;
const policy = secondsPolicy(`partial-${run}`, { upcoming_notice: 0, first_reminder: 4, second_reminder: 8, manual_escalation: 12 }, { maxPromises: 5 });

beforeAll(async () => {
  stack = await startTestStack('partial-payments', { mailer });
  await setPolicy(ctx(), { policy });
});
afterAll(async () => {
  await stack?.close();
});

describe('partial payments between every pair of steps', () => {
  it('re-anchor each email and the promise limit on what is still owed, and never skip or repeat a step', async () => {
    // Two invoices: $600 due first, $400 after; the payments take the first, then the second.
    const { planId } = await createPlan(stack.db.db, {
      invoices: [
        { number: 'INV-A', amountMinor: 60_000, dueOn: '2026-01-10', issuedOn: '2026-01-01' },
        { number: 'INV-B', amountMinor: 40_000, dueOn: '2026-01-20', issuedOn: '2026-01-01' },
      ],
    });
    await initiateDunning(ctx(), { planId, policyName: policy.name });
    const payments = [25_000, 40_000, 15_000]; // after the notice, the first reminder, the second
    const owedAt: number[] = [];
    let owed = 100_000;
    for (let i = 0; i < steps.length; i++) {
      const state = await waitForPlanState(stack.client, planId, (s) => stepOf(s, steps[i]!).status === 'completed', steps[i]!);
      expect(state.outstandingMinor, `owed when ${steps[i]} ran`).toBe(owed);
      owedAt.push(owed);
      // The step ahead has not run yet: the payment lands between this one and the next.
      if (i + 1 < steps.length) expect(stepOf(state, steps[i + 1]!).status).not.toBe('completed');
      const payment = payments[i];
      if (payment === undefined) break;
      await reportPayment(ctx(), { planId, paymentId: `${planId}-p${i}`, amountMinor: payment });
      owed -= payment;
      const after = await waitForPlanState(stack.client, planId, (s) => s.outstandingMinor === owed, `the payment after ${steps[i]}`);
      // A promise may cover what is still owed, never more.
      await expect(recordPromise(ctx(), { planId, amountMinor: owed + 1, dueAt: new Date(Date.now() + 86_400_000).toISOString() })).rejects.toThrow(
        `The promised amount is more than the ${(owed / 100).toFixed(2)} USD owed.`,
      );
      expect(after.status).toBe('in_progress');
    }

    // Every email asked for what was owed when it went out, and listed only what was still open.
    const emails = steps.slice(0, 3).map((key) => sent.find((e) => e.idempotencyKey === `${planId}:${key}`)!);
    const money = (minor: number) => `$${(minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;
    emails.forEach((email, i) => expect(email.text, steps[i]).toContain(`: ${money(owedAt[i]!)}`));
    expect(emails[2]!.text).not.toContain('Invoice INV-A'); // paid off by the first two payments
    expect(emails[2]!.text).toContain('Invoice INV-B');

    // Each step ran once, in order; each email was sent once (the ledger and the provider).
    // The journey's state answers at once; the last step reaches the database with its sync.
    const stepRows = await eventually(async () => {
      const rows = await stack.db.db.select().from(orchestrationSteps).where(eq(orchestrationSteps.planId, planId)).orderBy(asc(orchestrationSteps.ordinal));
      return rows.every((r) => r.status === 'completed') ? rows : undefined;
    }, 'every step completed in the database');
    expect(stepRows.map((s) => [s.key, s.status])).toEqual(steps.map((k) => [k, 'completed']));
    const completedAt = stepRows.map((s) => s.completedAt!.getTime());
    expect([...completedAt].sort((a, b) => a - b)).toEqual(completedAt);
    const ledger = await stack.db.db.select().from(emailMessages).where(eq(emailMessages.planId, planId));
    for (const key of steps.slice(0, 3)) {
      expect(ledger.filter((m) => m.stepKey === key).map((m) => m.status), key).toEqual(['sent']);
      expect(sent.filter((e) => e.idempotencyKey === `${planId}:${key}`), key).toHaveLength(1);
    }
  }, 60_000);
});
