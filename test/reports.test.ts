// The reports on a seeded scenario whose figures are worked out by hand below. Plans are
// imported through the real import code; what a journey would have written since (initiation,
// payments, promises, resolution) is written straight to its tables with the times the
// scenario needs, since days to resolve cannot be waited for. Other suites share the database,
// so every report is read under this run's own policy.
import { randomUUID } from 'node:crypto';
import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPolicy } from '../client/policies';
import { agingReport, runReport } from '../client/reports';
import { collectionPlans } from '../db/schema';
import { runDunning } from './engine-process';
import { createPlan, secondsPolicy } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';
import { cliEnv } from './support';

let h: ApiHarness;
let env: NodeJS.ProcessEnv;
const run = randomUUID().slice(0, 6);
/** The scenario's policy: every report is read under it. */
const policy = `reports-${run}`;

const dunning = (...args: string[]) => runDunning(args, env);

/** The date on the wall calendar of `zone` now. */
const todayIn = (zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** UTC+14 and UTC−11: their dates differ by one or two days at any hour. */
const kiritimati = 'Pacific/Kiritimati';
const pagoPago = 'Pacific/Pago_Pago';

/** Marks plans as a journey under the scenario's policy leaves them when it begins. */
async function initiated(planIds: string[], at = new Date()) {
  await h.ctx.db.update(collectionPlans).set({ policyName: policy, status: 'in_progress', initiatedAt: at }).where(inArray(collectionPlans.id, planIds));
}

beforeAll(async () => {
  h = await startApiHarness('reports');
  env = cliEnv(h.stack);
  // Steps an hour away; the scenario's plans run no journey anyway.
  await setPolicy(h.ctx, { policy: secondsPolicy(policy, { upcoming_notice: 3600 }) });
});
afterAll(async () => {
  await h?.close();
});

describe('aging', () => {
  const g = () => todayIn(pagoPago);
  const k = () => todayIn(kiritimati);
  const inv = (amountMinor: number, dueOn: string, number?: string) => ({ amountMinor, dueOn, issuedOn: addDays(dueOn, -30), number });

  beforeAll(async () => {
    // A: Pago Pago, USD. Due in 5 days and due today are not yet due; 1 and 30 days past due are 1–30.
    const a = await createPlan(h.ctx.db, { timezone: pagoPago, invoices: [inv(10_000, addDays(g(), 5)), inv(20_000, g()), inv(30_000, addDays(g(), -1)), inv(40_000, addDays(g(), -30))] });
    // B: Kiritimati, USD. The date that is 30 days past due in Pago Pago is 31 or 32 here: 31–60.
    const b = await createPlan(h.ctx.db, {
      timezone: kiritimati,
      invoices: [
        inv(50_000, addDays(g(), -30)),
        inv(60_000, addDays(k(), -60)),
        inv(70_000, addDays(k(), -61)),
        inv(80_000, addDays(k(), -90)),
        inv(90_000, addDays(k(), -91), 'PART'),
        inv(99_000, addDays(k(), -120), 'PAID'),
      ],
    });
    // PART has 25,000 left open; PAID nothing: only what is open is aged.
    await h.ctx.db.execute(sql`update invoices set open_minor = case number when 'PART' then 25000 else 0 end,
      status = case number when 'PAID' then 'paid' else status end
      where account_id = ${b.accountId} and number in ('PART', 'PAID')`);
    // C: Kiritimati, EUR: its own row, never added to the dollars.
    const c = await createPlan(h.ctx.db, { timezone: kiritimati, currency: 'EUR', invoices: [inv(11_100, addDays(k(), -10)), inv(22_200, addDays(k(), -100))] });
    // D: cancelled with an invoice still open: a closed plan is no longer aged.
    const d = await createPlan(h.ctx.db, { timezone: kiritimati, invoices: [inv(77_700, addDays(k(), -45))] });
    // E: open, but under no policy of this run: outside the filter.
    await createPlan(h.ctx.db, { timezone: kiritimati, invoices: [inv(66_600, addDays(k(), -45))] });
    await initiated([a.planId, b.planId, c.planId, d.planId]);
    await h.ctx.db.update(collectionPlans).set({ status: 'cancelled', closedAt: new Date() }).where(inArray(collectionPlans.id, [d.planId]));
  });

  const expected = [
    { currency: 'EUR', plans: 1, notDueMinor: 0, days1to30Minor: 11_100, days31to60Minor: 0, days61to90Minor: 0, over90Minor: 22_200, totalMinor: 33_300 },
    // Not yet due 10,000 + 20,000; 1–30 30,000 + 40,000; 31–60 50,000 + 60,000; 61–90 70,000 + 80,000; 90+ 25,000.
    { currency: 'USD', plans: 2, notDueMinor: 30_000, days1to30Minor: 70_000, days31to60Minor: 110_000, days61to90Minor: 150_000, over90Minor: 25_000, totalMinor: 385_000 },
  ];

  it('buckets the open amount by days past due on each account\'s calendar, one row per currency', async () => {
    const report = await agingReport(h.ctx, { policy });
    expect(report.rows).toEqual(expected);
    expect((await agingReport(h.ctx, { policy, currency: 'EUR' })).rows).toEqual([expected[0]]);
  });

  it('answers the same over HTTP for ops, and as JSON and CSV on the command line', async () => {
    const answer = await h.call('GET', `/v1/reports/aging?policy=${policy}`, { as: 'ops' });
    expect(answer.status).toBe(200);
    expect(answer.body.rows).toEqual(expected);
    const json = await dunning('report', 'aging', '--policy', policy, '--json');
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout).rows).toEqual(expected);
    const csv = await dunning('report', 'aging', '--policy', policy, '--csv');
    expect(csv.stdout.trim().split('\r\n')).toEqual([
      'currency,plans,not_due_minor,days_1_30_minor,days_31_60_minor,days_61_90_minor,over_90_minor,total_minor',
      'EUR,1,0,11100,0,0,22200,33300',
      'USD,2,30000,70000,110000,150000,25000,385000',
    ]);
    const human = await dunning('report', 'aging', '--policy', policy);
    expect(human.stdout).toContain('USD       2      $300.00      $700.00  $1,100.00  $1,500.00  $250.00  $3,850.00');
  });
});

describe('bad input', () => {
  const cases: Array<{ what: string; cli: string[]; http: string; status: number; detail: string }> = [
    { what: 'an unknown report', cli: ['report', 'speed'], http: '/v1/reports/speed', status: 404, detail: 'Unknown report "speed"; the reports are aging, promises, recovery.' },
    { what: 'a bad currency', cli: ['report', 'aging', '--currency', 'usd'], http: '/v1/reports/aging?currency=usd', status: 422, detail: 'The currency must be a three-letter code like USD, not "usd".' },
    { what: 'a filter the report does not take', cli: ['report', 'aging', '--from', '2026-01-01'], http: '/v1/reports/aging?from=2026-01-01', status: 422, detail: 'The aging report takes no "from" filter; it takes "policy", "currency".' },
    { what: 'an unknown policy', cli: ['report', 'aging', '--policy', 'no-such-policy'], http: '/v1/reports/aging?policy=no-such-policy', status: 404, detail: 'Unknown policy "no-such-policy"; see `dunning policy list`.' },
  ];
  it.each(cases)('refuses $what in one sentence, the same on the command line and over HTTP', async ({ cli, http, status, detail }) => {
    const answer = await h.call('GET', http, { as: 'ops' });
    expect(answer.status).toBe(status);
    expect(answer.body.detail).toBe(detail);
    const r = await dunning(...cli);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(detail);
  });

  it('refuses --json with --csv', async () => {
    const r = await dunning('report', 'aging', '--json', '--csv');
    expect(r.stderr.trim()).toBe('Choose one of --json and --csv.');
  });

  it('reads the same through runReport as through the report itself', async () => {
    expect((await runReport(h.ctx, { name: 'aging', policy })).report).toBe('aging');
  });
});
