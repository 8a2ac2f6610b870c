// One disputed invoice held while the plan's others are collected, on the real stack: out of
// what is owed, the emails and the promise limits; back when released, or by itself at its end
// date; the refusals the same on the CLI and over HTTP.
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlan } from '../client/create-plan';
import { holdInvoice, initiateDunning, recordPromise, releaseInvoice, reportPayment } from '../client/dunning';
import { setPolicy } from '../client/policies';
import { timelineEvents } from '../db/schema';
import { secondsPolicy, stepOf, waitForPlanState } from './fixtures';
import { compositePlan, startApiHarness, type ApiHarness } from './http-support';
import { runDunning } from './engine-process';
import { capturingMailer, cliEnv } from './support';

let h: ApiHarness;
const run = randomUUID().slice(0, 6);
/** Every email the engine sent, as the provider would have it. */
const { mailer, sent } = capturingMailer();
/** Reminders six seconds apart, a task an hour away: time to hold and release between them. */
const policy = secondsPolicy(`holds-${run}`, { upcoming_notice: 0, first_reminder: 6, second_reminder: 12, manual_escalation: 3600 }, { maxPromises: 3 });
const emailOf = (planId: string, step: string) => sent.find((e) => e.idempotencyKey === `${planId}:${step}`);
const timelineOf = async (planId: string) =>
  (await h.ctx.db.select().from(timelineEvents).where(eq(timelineEvents.planId, planId)).orderBy(asc(timelineEvents.seq))).map((t) => ({ kind: t.kind, summary: t.summary }));

/** A plan of two invoices, A ($100, due first) and B ($200), its journey begun. */
async function twoInvoicePlan(name: string) {
  const acct = `HOLD-${run}-${name}`;
  const { planId } = await createPlan(h.ctx, compositePlan(acct, [{ number: `${acct}-A`, amountMinor: 10_000 }, { number: `${acct}-B`, amountMinor: 20_000 }]));
  await initiateDunning(h.ctx, { planId, policyName: policy.name });
  await h.untilBegun(planId);
  return { planId, a: `${acct}-A`, b: `${acct}-B` };
}

beforeAll(async () => {
  h = await startApiHarness('holds', { mailer });
  await setPolicy(h.ctx, { policy });
});
afterAll(async () => {
  await h?.close();
});

describe('an invoice held for a dispute', () => {
  it('leaves what is owed, the emails and the promise limits while the other is collected, and comes back when released', async () => {
    const { planId, a, b } = await twoInvoicePlan('release');
    const held = await holdInvoice(h.ctx, { planId, invoiceNumber: a, reason: 'Goods returned', by: 'Dana' });
    expect(held.outstandingMinor).toBe(20_000);
    expect(held.heldInvoices).toEqual([{ invoiceNumber: a, reason: 'Goods returned', since: expect.any(String), amountMinor: 10_000 }]);
    // A promise can cover only what is collected.
    await expect(recordPromise(h.ctx, { planId, amountMinor: 25_000, dueAt: new Date(Date.now() + 86_400_000).toISOString() })).rejects.toThrow(
      'The promised amount is more than the 200.00 USD owed.',
    );

    await waitForPlanState(h.stack.client, planId, (s) => stepOf(s, 'first_reminder').status === 'completed', 'the first reminder');
    const first = emailOf(planId, 'first_reminder')!;
    expect(first.text).toContain(`Invoice ${b}`);
    expect(first.text).not.toContain(a);
    expect(first.text).toContain('$200.00');

    const released = await releaseInvoice(h.ctx, { planId, invoiceNumber: a, by: 'Dana' });
    expect(released.outstandingMinor).toBe(30_000);
    expect(released.heldInvoices).toEqual([]);
    await waitForPlanState(h.stack.client, planId, (s) => stepOf(s, 'second_reminder').status === 'completed', 'the second reminder');
    const second = emailOf(planId, 'second_reminder')!;
    expect(second.text).toContain(`Invoice ${a}`);
    expect(second.text).toContain('$300.00');

    const entries = (await timelineOf(planId)).filter((t) => t.kind.startsWith('invoice_'));
    expect(entries).toEqual([
      { kind: 'invoice_held', summary: `Invoice ${a} held: Goods returned (by Dana); the others are still collected` },
      { kind: 'invoice_released', summary: `Invoice ${a} released by Dana: collected again` },
    ]);
  }, 60_000);

  it('comes back by itself at the end of its hold', async () => {
    const { planId, a } = await twoInvoicePlan('until');
    const until = new Date(Date.now() + 3_000).toISOString();
    const held = await holdInvoice(h.ctx, { planId, invoiceNumber: a, reason: 'Checking the delivery note', until });
    expect(held.heldInvoices![0]!.until).toBe(until);
    const back = await waitForPlanState(h.stack.client, planId, (s) => (s.heldInvoices ?? []).length === 0, 'the hold to end');
    expect(back.outstandingMinor).toBe(30_000);
    expect((await timelineOf(planId)).filter((t) => t.kind === 'invoice_released')).toEqual([
      { kind: 'invoice_released', summary: `Invoice ${a} released at the end of its hold: collected again` },
    ]);
  }, 30_000);

  it('keeps the plan open when the rest is paid, and resolves it once the held invoice is paid too', async () => {
    const { planId, a } = await twoInvoicePlan('paid');
    await holdInvoice(h.ctx, { planId, invoiceNumber: a, reason: 'Price disputed' });
    await reportPayment(h.ctx, { planId, paymentId: `${planId}-pay-b`, amountMinor: 20_000 });
    const waiting = await waitForPlanState(h.stack.client, planId, (s) => s.outstandingMinor === 0, 'the payment');
    expect(waiting.status).not.toBe('resolved');
    expect(waiting.heldInvoices).toHaveLength(1);
    // Settled as the dispute ends: paid, then released.
    await reportPayment(h.ctx, { planId, paymentId: `${planId}-pay-a`, amountMinor: 10_000, invoiceNumber: a });
    const resolved = await releaseInvoice(h.ctx, { planId, invoiceNumber: a });
    expect(resolved.status).toBe('resolved');
  }, 30_000);

  it('refuses in one sentence, the same on the command line and over HTTP', async () => {
    const { planId, a, b } = await twoInvoicePlan('refusals');
    await holdInvoice(h.ctx, { planId, invoiceNumber: a, reason: 'Disputed' });
    const cases: Array<{ cli: string[]; http: { path: string; body: object }; status: number; code: string; sentence: string }> = [
      {
        cli: ['invoice', 'hold', planId, 'NOPE-1', '--reason', 'x'],
        http: { path: `/v1/plans/${planId}/invoices/NOPE-1/hold`, body: { reason: 'x' } },
        status: 404,
        code: 'unknown_invoice',
        sentence: 'The plan has no open invoice "NOPE-1".',
      },
      {
        cli: ['invoice', 'hold', planId, a, '--reason', 'again'],
        http: { path: `/v1/plans/${planId}/invoices/${a}/hold`, body: { reason: 'again' } },
        status: 409,
        code: 'invoice_held',
        sentence: `Invoice ${a} is already held (Disputed).`,
      },
      {
        cli: ['invoice', 'release', planId, b],
        http: { path: `/v1/plans/${planId}/invoices/${b}/release`, body: {} },
        status: 409,
        code: 'invoice_not_held',
        sentence: `Invoice ${b} is not held.`,
      },
      {
        cli: ['invoice', 'hold', planId, b, '--reason', 'late', '--until', '2020-01-01T00:00:00Z'],
        http: { path: `/v1/plans/${planId}/invoices/${b}/hold`, body: { reason: 'late', until: '2020-01-01T00:00:00Z' } },
        status: 422,
        code: 'invalid',
        sentence: 'The hold end date must be in the future.',
      },
    ];
    for (const c of cases) {
      const answer = await h.call('POST', c.http.path, { as: 'rep', body: c.http.body });
      expect([answer.status, answer.body.code, answer.body.detail], c.sentence).toEqual([c.status, c.code, c.sentence]);
      const cli = await runDunning(c.cli, cliEnv(h.stack));
      expect([cli.code, cli.stderr.trim()], c.sentence).toEqual([1, c.sentence]);
    }
    // Nothing changed: A still the only one held.
    const state = await waitForPlanState(h.stack.client, planId, () => true, 'the plan');
    expect(state.heldInvoices!.map((i) => i.invoiceNumber)).toEqual([a]);
    expect(state.outstandingMinor).toBe(20_000);
  }, 60_000);
});
