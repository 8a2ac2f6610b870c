// 1,000 plans started together on one worker all reach their first reminder: none lost, none
// sent twice (counted over every write to the outbox, where a second delivery would show).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { initiateDunning } from '../client/dunning';
import { importRows, type ParsedRow } from '../client/import';
import { readOutboxDeliveries } from '../activities/mail';
import { setPolicy } from '../db/policies';
import { dateOffset, eventually, secondsPolicy } from './fixtures';
import { deliveriesPerKey, startTestStack, type TestStack } from './support';

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
      const [row] = await stack.db.db.execute<{ sent: number; reminders: number }>(sql`
        select count(*)::int as sent,
               count(*) filter (where step_key = 'first_reminder')::int as reminders
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

    expect(done).toEqual({ sent: 2 * PLANS, reminders: PLANS });
    // The ledger has one row per key by construction and the outbox one file per key; the
    // journal has a line per write, so a second delivery of any message shows as a 2.
    const writes = (await readOutboxDeliveries(stack.outboxDir)).filter((w) => w.idempotencyKey.startsWith(`plan-${tag}-`));
    const expected = plans.flatMap(({ planId }) => [`${planId}:upcoming_notice`, `${planId}:first_reminder`]);
    const perKey = deliveriesPerKey(writes.map((w) => w.idempotencyKey));
    expect(Object.entries(perKey).filter(([, n]) => n !== 1)).toEqual([]); // short to read when it fails
    expect(Object.keys(perKey).sort()).toEqual(expected.sort());
    // The step rows are written right after each send: wait for the last few.
    await eventually(async () => {
      const [steps] = await stack.db.db.execute<{ completed: number }>(sql`
        select count(*)::int as completed from orchestration_steps
        where plan_id like ${`plan-${tag}-%`} and status = 'completed'`);
      return steps!.completed === 2 * PLANS ? true : undefined;
    }, 'every step row to say completed', 30_000);
  }, 300_000);
});
