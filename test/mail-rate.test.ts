// The mail task queue's rate limit: many sends due at once drain at the configured rate
// instead of hitting the provider all together, and each is sent exactly once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendInSlot, slotSpacingMs } from '../activities/mail-rate';
import { createResendMailer } from '../activities/resend-mailer';
import { initiateDunning } from '../client/dunning';
import { setPolicy } from '../db/policies';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startResendStandin, type ResendStandin } from './resend-standin';
import { startTestStack, type TestStack } from './support';

const RATE = 4; // sends per second
const PLANS = 12;
let standin: ResendStandin;
let stack: TestStack;

beforeAll(async () => {
  standin = await startResendStandin();
  stack = await startTestStack('mail-rate', {
    mailer: createResendMailer({ apiKey: 're_rate', baseUrl: standin.baseUrl }),
    mailRatePerSecond: RATE,
    // One request per message, rate-limited by the task queue; test/mail-batch.test.ts covers batches.
    mailBatchSize: 1,
  });
});
afterAll(async () => {
  await stack?.close();
  await standin?.close();
});

describe('the mail rate limit', () => {
  it(`spreads ${PLANS} sends due at once at ${RATE} per second`, async () => {
    const policy = `rate-${randomUUID().slice(0, 6)}`;
    await setPolicy(stack.db.db, secondsPolicy(policy, { upcoming_notice: 0 }));
    const plans = await Promise.all(
      Array.from({ length: PLANS }, () => createPlan(stack.db.db, { invoices: [{ amountMinor: 1_000, dueOn: dateOffset(5) }] })),
    );
    const ctx = { client: stack.client, db: stack.db.db, config: stack.config };
    await Promise.all(plans.map(({ planId }) => initiateDunning(ctx, { planId, policyName: policy })));
    const sends = await eventually(
      async () => (standin.requests.length >= PLANS ? standin.requests : undefined),
      'every notice to be sent',
      60_000,
    );
    const keys = sends.map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(PLANS);
    expect(keys.sort()).toEqual(plans.map((p) => `${p.planId}:upcoming_notice`).sort());
    const spanMs = Math.max(...sends.map((r) => r.at)) - Math.min(...sends.map((r) => r.at));
    console.log(`${PLANS} sends spread over ${spanMs} ms at a limit of ${RATE}/s`);
    // Unlimited, 12 sends leave within a few hundred ms; at 4/s they need about (12 - 1) / 4 s.
    expect(spanMs).toBeGreaterThanOrEqual(((PLANS - 1) / RATE) * 1000 * 0.7);
  });

  it('leaves a full slot between two requests of a batching provider, sleeping its last moments in the database', async () => {
    // Timers wake the taker a little before its slot; the database sleeps the rest by its own
    // clock, so a request never leaves early, however the process's timers fall.
    const provider = `slots-${randomUUID().slice(0, 8)}`;
    const leftAt: number[] = [];
    for (let i = 0; i < 4; i++) {
      await sendInSlot(stack.db.db, { provider, ratePerSecond: RATE, prepare: async () => i, send: async () => void leftAt.push(performance.now()) });
    }
    const gaps = leftAt.slice(1).map((t, i) => t - leftAt[i]!);
    console.log(`requests ${gaps.map((g) => g.toFixed(0)).join(', ')} ms apart; a slot is ${slotSpacingMs(RATE).toFixed(0)} ms`);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(slotSpacingMs(RATE) - 2);
  });
});
