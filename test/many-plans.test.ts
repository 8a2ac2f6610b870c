// 1,000 plans started together on one worker all reach their first reminder: none lost, none
// sent twice (counted in the ledger and in the outbox).
import { readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { initiateDunning } from '../client/dunning';
import { importRows, type ParsedRow } from '../client/import';
import { setPolicy } from '../db/policies';
import { dateOffset, eventually, secondsPolicy } from './fixtures';
import { startTestStack, type TestStack } from './support';

const PLANS = 1_000;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('many');
});
afterAll(async () => {
  await stack?.close();
});

/** Runs `work` over `items` with at most `limit` in flight, as a billing system would. */
async function withConcurrency<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

describe(`${PLANS} plans at once`, () => {
  it('all reach their first reminder, each email sent exactly once', async () => {
    const tag = `many${randomUUID().slice(0, 6)}`;
    const policy = `${tag}-policy`;
    await setPolicy(stack.db.db, secondsPolicy(policy, { upcoming_notice: 0, first_reminder: 15 }));
    const rows: ParsedRow[] = Array.from({ length: PLANS }, (_, i) => ({
      line: i + 2,
      accountId: `${tag}-${i}`,
      accountName: `Customer ${i}`,
      contactName: `Contact ${i}`,
      contactEmail: `c${i}@${tag}.example`,
      timezone: 'Etc/UTC',
      currency: 'USD',
      invoiceNumber: `${tag}-INV-${i}`,
      amountMinor: 1_000 + i,
      issuedOn: dateOffset(-30),
      dueOn: dateOffset(10),
    }));
    const { plans } = await importRows(stack.db.db, rows);
    expect(plans).toHaveLength(PLANS);

    const ctx = { client: stack.client, db: stack.db.db, config: stack.config };
    const started = Date.now();
    await withConcurrency(plans, 50, ({ planId }) => initiateDunning(ctx, { planId, policyName: policy }));
    const initiatedMs = Date.now() - started;
    const progress = setInterval(() => void count().then((c) => console.log(`${Math.round((Date.now() - started) / 1000)} s: ${c.sent} sent`)), 10_000);

    const count = async () => {
      const [row] = await stack.db.db.execute<{ sent: number; reminders: number; dupes: number }>(sql`
        select count(*)::int as sent,
               count(*) filter (where step_key = 'first_reminder')::int as reminders,
               (count(*) - count(distinct idempotency_key))::int as dupes
        from email_messages where status = 'sent' and plan_id like ${`plan-${tag}-%`}`);
      return row!;
    };
    const done = await eventually(async () => {
      const c = await count();
      return c.reminders === PLANS ? c : undefined;
    }, `all ${PLANS} first reminders`, 280_000);
    clearInterval(progress);
    const totalMs = Date.now() - started;
    console.log(`${PLANS} plans: initiated in ${initiatedMs} ms, all first reminders sent ${totalMs} ms after the first start`);

    expect(done).toEqual({ sent: 2 * PLANS, reminders: PLANS, dupes: 0 });
    const files = readdirSync(stack.outboxDir).filter((f) => f.startsWith(`plan-${tag}-`));
    expect(files).toHaveLength(2 * PLANS);
    // The step rows are written right after each send: wait for the last few.
    await eventually(async () => {
      const [steps] = await stack.db.db.execute<{ completed: number }>(sql`
        select count(*)::int as completed from orchestration_steps
        where plan_id like ${`plan-${tag}-%`} and status = 'completed'`);
      return steps!.completed === 2 * PLANS ? true : undefined;
    }, 'every step row to say completed', 30_000);
  }, 300_000);
});
