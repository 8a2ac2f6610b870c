// `dunning demo` as a newcomer runs it right after `npm start`: the sample portfolio imported
// with dates relative to today, every plan initiated under the seconds-long `demo` policy, mail
// out within seconds, the opted-out contact handed to a rep; a second run says so and starts,
// writes and duplicates nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { DemoResult } from '../client/demo/demo';
import { planStatus } from '../client/status';
import { runDunning } from './engine-process';
import { dateOffset, eventually, outboxFor } from './fixtures';
import { cliEnv, startTestStack, type TestStack } from './support';

let stack: TestStack;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  stack = await startTestStack('demo');
  env = cliEnv(stack);
});
afterAll(async () => {
  await stack?.close();
});

describe('dunning demo', () => {
  it('imports the sample portfolio, initiates every plan, sends mail within seconds, and a second run changes nothing', async () => {
    const run = await runDunning(['demo', '--json'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const first = JSON.parse(run.stdout) as DemoResult;
    const returnedAt = Date.now();

    expect(first.portfolio.accounts).toBe(10);
    expect(first.portfolio.invoicesAdded).toBe(first.portfolio.rows);
    expect(first.plans).toHaveLength(10);
    expect(first.plans.filter((p) => p.alreadyRunning)).toEqual([]);
    expect(new Set(first.plans.map((p) => p.policy))).toEqual(new Set(['demo']));
    expect(first.policy).toMatchObject({ name: 'demo', saved: true });
    // Dates are written relative to today in the template (ACME-1041: due today-12).
    const [invoice] = await stack.db.db.execute<{ due: string }>(sql`select due_on::text as due from invoices where number = 'ACME-1041'`);
    expect(invoice!.due).toBe(dateOffset(-12));

    // The notices go out at once, the first reminders 10 s later.
    const firstEmail = await eventually(async () => (outboxFor(stack.outboxDir, 'plan-DEMO-ACME').length > 0 ? Date.now() : undefined), 'the first demo email');
    const reminders = await eventually(
      async () => (first.plans.filter((p) => outboxFor(stack.outboxDir, p.planId).some((f) => f.includes('first_reminder'))).length >= 9 ? Date.now() : undefined),
      'nine first reminders',
      40_000,
    );
    console.log(`first email ${firstEmail - returnedAt} ms, nine first reminders ${reminders - returnedAt} ms after \`dunning demo\` returned`);
    // The contact who opted out gets no email; a rep gets a task instead.
    expect(outboxFor(stack.outboxDir, 'plan-DEMO-ALPEN')).toEqual([]);
    const alpen = await planStatus(stack.db, { planId: 'plan-DEMO-ALPEN' });
    expect(alpen.tasks.map((t) => t.kind)).toContain('opted_out');

    const again = await runDunning(['demo'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('(0 new)');
    expect(again.stdout).toContain('Policy "demo" unchanged');
    expect(again.stdout).toContain('0 plans initiated, 10 already running');
    const [plans] = await stack.db.db.execute<{ n: number }>(sql`select count(*)::int as n from collection_plans where account_id like 'DEMO-%'`);
    expect(plans!.n).toBe(10);
  });
});
