// The reports on a seeded scenario whose figures are worked out by hand below. Plans are
// imported through the real import code; what a journey would have written since (initiation,
// payments, promises, resolution) is written straight to its tables with the times the
// scenario needs, since days to resolve cannot be waited for. Other suites share the database,
// so every report is read under this run's own policy.
import { randomUUID } from 'node:crypto';
import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPolicy } from '../client/policies';
import { initiateDunning } from '../client/dunning';
import { agingReport, promisesReport, readTogether, recoveryReport, runReport, stepsReport } from '../client/reports';
import { createPlanActivities } from '../activities/plans';
import { systemClock } from '../activities/clock';
import { collectionPlans, orchestrationSteps, paymentPromises, payments } from '../db/schema';
import { runDunning } from './engine-process';
import { createPlan, secondsPolicy } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';
import { cliEnv } from './support';

let h: ApiHarness;
let env: NodeJS.ProcessEnv;
const run = randomUUID().slice(0, 6);
/** The scenario's policy: every report is read under it. */
const policy = `reports-${run}`;
/** The recovery scenario's own policy: the plans above were initiated this week, these in March 2026. */
const recoveryPolicy = `recovery-${run}`;
/** The step attribution scenario's policy, its plans initiated in April 2026. */
const stepsPolicy = `steps-${run}`;

const dunning = (...args: string[]) => runDunning(args, env);

/** The date on the wall calendar of `zone` now. */
const todayIn = (zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** UTC+14 and UTC−11: their dates differ by one or two days at any hour. */
const kiritimati = 'Pacific/Kiritimati';
const pagoPago = 'Pacific/Pago_Pago';

/** Marks plans as a journey under the scenario's policy (version 1 unless said) leaves them when it begins. */
async function initiated(planIds: string[], at = new Date(), policyName = policy, policyVersion = 1) {
  await h.ctx.db.update(collectionPlans).set({ policyName, policyVersion, status: 'in_progress', initiatedAt: at }).where(inArray(collectionPlans.id, planIds));
}

beforeAll(async () => {
  h = await startApiHarness('reports');
  env = cliEnv(h.stack);
  // Steps an hour away; the scenario's plans run no journey anyway.
  for (const name of [policy, recoveryPolicy, stepsPolicy]) await setPolicy(h.ctx, { policy: secondsPolicy(name, { upcoming_notice: 3600 }) });
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

describe('promises', () => {
  beforeAll(async () => {
    const due = { dueOn: '2026-02-15', issuedOn: '2026-01-15' };
    const [one, two, other] = await Promise.all([1, 2, 3].map(() => createPlan(h.ctx.db, { invoices: [{ amountMinor: 500_000, ...due }] })));
    await initiated([one!.planId, two!.planId]);
    const made = new Date('2026-03-10T12:00:00Z');
    let n = 0;
    const promise = (planId: string, rep: string | null, status: 'open' | 'kept' | 'broken' | 'cancelled', createdAt = made) => ({
      id: `${run}-promise-${++n}`,
      planId,
      amountMinor: 1_000,
      dueOn: new Date('2026-03-20T12:00:00Z'),
      status,
      rep,
      createdAt,
    });
    await h.ctx.db.insert(paymentPromises).values([
      // Ana: 3 kept (one made in January), 1 broken, 1 open.
      promise(one!.planId, 'Ana', 'kept'),
      promise(one!.planId, 'Ana', 'kept'),
      promise(two!.planId, 'Ana', 'kept', new Date('2026-01-05T23:30:00Z')),
      promise(two!.planId, 'Ana', 'broken'),
      promise(two!.planId, 'Ana', 'open'),
      // Ben: 2 broken. Cara: 1 open, nothing settled yet. No rep: 1 kept, 1 cancelled.
      promise(one!.planId, 'Ben', 'broken'),
      promise(two!.planId, 'Ben', 'broken'),
      promise(one!.planId, 'Cara', 'open'),
      promise(one!.planId, null, 'kept'),
      promise(two!.planId, null, 'cancelled'),
      // A plan outside this run's policy.
      promise(other!.planId, 'Ana', 'kept'),
    ]);
  });

  const expected = [
    { rep: 'Ana', made: 5, kept: 3, broken: 1, pending: 1, keptRate: 3 / 4 },
    { rep: 'Ben', made: 2, kept: 0, broken: 2, pending: 0, keptRate: 0 },
    { rep: 'Cara', made: 1, kept: 0, broken: 0, pending: 1, keptRate: null },
    { rep: null, made: 2, kept: 1, broken: 0, pending: 1, keptRate: 1 },
  ];

  it('counts promises made, kept and broken by rep, with the kept rate over those settled', async () => {
    expect((await promisesReport(h.ctx, { policy })).rows).toEqual(expected);
    // From February on, Ana's January promise is out: 2 kept of 3 settled.
    const since = await promisesReport(h.ctx, { policy, from: '2026-02-01', to: '2026-03-10' });
    expect(since.rows[0]).toEqual({ rep: 'Ana', made: 4, kept: 2, broken: 1, pending: 1, keptRate: 2 / 3 });
    expect((await promisesReport(h.ctx, { policy, to: '2026-03-09' })).rows).toEqual([{ rep: 'Ana', made: 1, kept: 1, broken: 0, pending: 0, keptRate: 1 }]);
  });

  it('shows a promise without a rep as "—" on the terminal and in CSV, null in JSON and over HTTP', async () => {
    const answer = await h.call('GET', `/v1/reports/promises?policy=${policy}`, { as: 'ops' });
    expect(answer.body.rows).toEqual(expected);
    const human = await dunning('report', 'promises', '--policy', policy);
    expect(human.stdout.split('\n').map((l) => l.trimEnd())).toEqual([
      'REP   MADE  KEPT  BROKEN  PENDING  KEPT RATE',
      'Ana   5     3     1       1        75.0 %',
      'Ben   2     0     2       0        0.0 %',
      'Cara  1     0     0       1        —',
      '—     2     1     0       1        100.0 %',
      '',
    ]);
    const csv = await dunning('report', 'promises', '--policy', policy, '--csv');
    expect(csv.stdout.trim().split('\r\n')).toEqual(['rep,made,kept,broken,pending,kept_rate', 'Ana,5,3,1,1,0.75', 'Ben,2,0,2,0,0', 'Cara,1,0,0,1,', '—,2,1,0,1,1']);
  });
});

describe('recovery', () => {
  const day = 86_400_000;
  const week1 = new Date('2026-03-03T10:00:00Z'); // a Tuesday: the week of Monday 2 March
  const sunday = new Date('2026-03-08T23:00:00Z'); // still the week of 2 March in UTC
  const week2 = new Date('2026-03-09T00:30:00Z'); // Monday 9 March
  let n = 0;

  /** A plan initiated at `at`, owing `amountMinor`, with payments `paid` (days after initiation, negative before). */
  async function scenarioPlan(p: { at: Date; amountMinor: number; paid?: Array<[days: number, amountMinor: number]>; currency?: string; status?: 'in_progress' | 'resolved' | 'cancelled'; closedAfterDays?: number; version?: number }) {
    const plan = await createPlan(h.ctx.db, { currency: p.currency, invoices: [{ amountMinor: p.amountMinor, dueOn: '2026-02-15', issuedOn: '2026-01-15' }] });
    await initiated([plan.planId], p.at, recoveryPolicy, p.version);
    const paid = p.paid ?? [];
    for (const [days, amountMinor] of paid) {
      await h.ctx.db.insert(payments).values({ id: `${run}-pay-${++n}`, planId: plan.planId, amountMinor, currency: p.currency ?? 'USD', receivedAt: new Date(p.at.getTime() + days * day) });
    }
    const open = p.amountMinor - paid.reduce((sum, [, a]) => sum + a, 0);
    await h.ctx.db.execute(sql`update invoices set open_minor = ${open}, status = case when ${open} = 0 then 'paid' else 'open' end where account_id = ${plan.accountId}`);
    if (p.status && p.status !== 'in_progress') {
      const closedAt = new Date(p.at.getTime() + (p.closedAfterDays ?? 0) * day);
      await h.ctx.db.update(collectionPlans).set({ status: p.status, closedAt }).where(inArray(collectionPlans.id, [plan.planId]));
    }
  }

  beforeAll(async () => {
    // Week of 2 March, USD: R1 paid in full in 2 days; R2 (initiated on the Sunday) in 5; R3 paid
    // 30,000 of 80,000; R4 paid 10,000 the day before initiation, so entered with 30,000, then cancelled.
    await scenarioPlan({ at: week1, amountMinor: 100_000, paid: [[2, 100_000]], status: 'resolved', closedAfterDays: 2 });
    await scenarioPlan({ at: sunday, amountMinor: 50_000, paid: [[5, 50_000]], status: 'resolved', closedAfterDays: 5 });
    await scenarioPlan({ at: week1, amountMinor: 80_000, paid: [[1, 30_000]] });
    await scenarioPlan({ at: week1, amountMinor: 40_000, paid: [[-1, 10_000]], status: 'cancelled', closedAfterDays: 3 });
    // Week of 9 March, USD: R5 paid in 11 days (in two payments), R6 in half a day.
    await scenarioPlan({ at: week2, amountMinor: 60_000, paid: [[4, 20_000], [11, 40_000]], status: 'resolved', closedAfterDays: 11 });
    await scenarioPlan({ at: week2, amountMinor: 20_000, paid: [[0.5, 20_000]], status: 'resolved', closedAfterDays: 0.5 });
    // Week of 9 March, EUR: 7,000 of 70,000 back.
    await scenarioPlan({ at: week2, amountMinor: 70_000, paid: [[3, 7_000]], currency: 'EUR' });
    // Week of 9 March, USD, under the policy's version 2: its own rows, never mixed with version 1's.
    await scenarioPlan({ at: week2, amountMinor: 30_000, paid: [[1, 30_000]], status: 'resolved', closedAfterDays: 1, version: 2 });
  });

  const row = (r: Partial<RecoveryRowShape>) => ({ policy: recoveryPolicy, policyVersion: 1, medianDaysToResolve: null, p90DaysToResolve: null, ...r });
  type RecoveryRowShape = Awaited<ReturnType<typeof recoveryReport>>['rows'][number];
  const eur = { currency: 'EUR', plans: 1, enteringMinor: 70_000, recoveredMinor: 7_000, recoveryRate: 0.1, resolved: 0 };
  const expected = [
    row({ ...eur, week: '2026-03-09' }),
    row({ ...eur, week: null }),
    // 100,000 + 50,000 + 80,000 + 30,000 entered; 100,000 + 50,000 + 30,000 back. Days 2 and 5:
    // median 3.5, p90 2 + 0.9 × 3 = 4.7.
    row({ currency: 'USD', week: '2026-03-02', plans: 4, enteringMinor: 260_000, recoveredMinor: 180_000, recoveryRate: 180_000 / 260_000, resolved: 2, medianDaysToResolve: 3.5, p90DaysToResolve: 4.7 }),
    // Days 0.5 and 11: median 5.75, p90 0.5 + 0.9 × 10.5 = 9.95.
    row({ currency: 'USD', week: '2026-03-09', plans: 2, enteringMinor: 80_000, recoveredMinor: 80_000, recoveryRate: 1, resolved: 2, medianDaysToResolve: 5.75, p90DaysToResolve: 9.95 }),
    // Days 0.5, 2, 5, 11: median (2 + 5) / 2 = 3.5; p90 at rank 0.9 × 3 = 2.7: 5 + 0.7 × 6 = 9.2.
    row({ currency: 'USD', week: null, plans: 6, enteringMinor: 340_000, recoveredMinor: 260_000, recoveryRate: 260_000 / 340_000, resolved: 4, medianDaysToResolve: 3.5, p90DaysToResolve: 9.2 }),
    // Version 2: one plan, paid in full in a day.
    ...[ '2026-03-09', null ].map((week) =>
      row({ policyVersion: 2, currency: 'USD', week, plans: 1, enteringMinor: 30_000, recoveredMinor: 30_000, recoveryRate: 1, resolved: 1, medianDaysToResolve: 1, p90DaysToResolve: 1 }),
    ),
  ];

  it('sets what entered dunning against what came back, by policy and initiation week, with days to resolve', async () => {
    expect((await recoveryReport(h.ctx, { policy: recoveryPolicy })).rows).toEqual(expected);
    // Plans initiated from 9 March on: the second week only.
    expect((await recoveryReport(h.ctx, { policy: recoveryPolicy, currency: 'USD', from: '2026-03-09' })).rows).toEqual([
      { ...expected[3], week: '2026-03-09' },
      { ...expected[3], week: null },
      expected[5],
      expected[6],
    ]);
  });

  it('answers the same over HTTP and as CSV', async () => {
    const answer = await h.call('GET', `/v1/reports/recovery?policy=${recoveryPolicy}&currency=USD`, { as: 'ops' });
    expect(answer.body.rows).toEqual(expected.slice(2));
    const csv = await dunning('report', 'recovery', '--policy', recoveryPolicy, '--currency', 'EUR', '--csv');
    expect(csv.stdout.trim().split('\r\n')).toEqual([
      'policy,policy_version,currency,week,plans,entering_minor,recovered_minor,recovery_rate,resolved,median_days_to_resolve,p90_days_to_resolve',
      `${recoveryPolicy},1,EUR,2026-03-09,1,70000,7000,0.1,0,,`,
      `${recoveryPolicy},1,EUR,,1,70000,7000,0.1,0,,`,
    ]);
  });
});

describe('steps', () => {
  const day = 86_400_000;
  const t0 = new Date('2026-04-06T10:00:00Z');
  const after = (days: number) => new Date(t0.getTime() + days * day);
  const order = { upcoming_notice: 0, first_reminder: 1, second_reminder: 2, manual_escalation: 3 } as const;
  type Key = keyof typeof order;
  let n = 0;

  /**
   * A plan initiated at t0 owing `owedMinor`: `steps` completed (or skipped) that many days
   * after, `paid` at those days, resolved when it paid everything.
   */
  async function stepsPlan(p: { owedMinor: number; steps: Array<[Key, days: number, status?: 'completed' | 'skipped']>; paid: Array<[days: number, amountMinor: number]>; currency?: string; version?: number }) {
    const plan = await createPlan(h.ctx.db, { currency: p.currency, invoices: [{ amountMinor: p.owedMinor, dueOn: '2026-03-30', issuedOn: '2026-03-01' }] });
    await initiated([plan.planId], t0, stepsPolicy, p.version);
    await h.ctx.db.insert(orchestrationSteps).values(
      Object.keys(order).map((key) => {
        const done = p.steps.find(([k]) => k === key);
        return {
          planId: plan.planId,
          key,
          ordinal: order[key as Key],
          action: key === 'manual_escalation' ? ('task' as const) : ('email' as const),
          status: done ? (done[2] ?? 'completed') : ('pending' as const),
          completedAt: done ? after(done[1]) : null,
        };
      }),
    );
    for (const [days, amountMinor] of p.paid) {
      await h.ctx.db.insert(payments).values({ id: `${run}-steps-pay-${++n}`, planId: plan.planId, amountMinor, currency: p.currency ?? 'USD', receivedAt: after(days) });
    }
    const paidAfter = p.paid.filter(([days]) => days >= 0).reduce((sum, [, a]) => sum + a, 0);
    if (paidAfter === p.owedMinor) await h.ctx.db.update(collectionPlans).set({ status: 'resolved', closedAt: after(Math.max(...p.paid.map(([d]) => d))) }).where(inArray(collectionPlans.id, [plan.planId]));
  }

  beforeAll(async () => {
    // S1: paid in full a day after the first reminder.
    await stepsPlan({ owedMinor: 40_000, steps: [['upcoming_notice', 0], ['first_reminder', 5]], paid: [[6, 40_000]] });
    // S2: part after the notice, the rest after the second reminder.
    await stepsPlan({ owedMinor: 50_000, steps: [['upcoming_notice', 0], ['first_reminder', 5], ['second_reminder', 10]], paid: [[1, 10_000], [12, 40_000]] });
    // S3: a part paid before its notice went out; nothing since.
    await stepsPlan({ owedMinor: 60_000, steps: [['upcoming_notice', 1], ['first_reminder', 5]], paid: [[0.1, 5_000]] });
    // S4: two payments after the escalation task, the second clearing it (and exactly at a step's instant: credited to that step).
    await stepsPlan({ owedMinor: 30_000, steps: [['upcoming_notice', 0], ['first_reminder', 5], ['second_reminder', 10], ['manual_escalation', 15]], paid: [[15, 20_000], [21, 10_000]] });
    // S5: paid before initiation (not dunning's doing); its first reminder skipped, so never reached.
    await stepsPlan({ owedMinor: 20_000, steps: [['upcoming_notice', 0], ['first_reminder', 5, 'skipped']], paid: [[-1, 7_000]] });
    // S6: EUR, part paid after the notice: its own rows.
    await stepsPlan({ owedMinor: 90_000, steps: [['upcoming_notice', 0]], paid: [[2, 9_000]], currency: 'EUR' });
    // S7: USD under version 2, paid in full after the notice.
    await stepsPlan({ owedMinor: 15_000, steps: [['upcoming_notice', 0]], paid: [[1, 15_000]], version: 2 });
  });

  const row = (version: number, currency: string, step: Key | null, reached: number, plansPaid: number, plansPaidInFull: number, amountMinor: number) => ({
    policy: stepsPolicy,
    policyVersion: version,
    currency,
    step,
    ordinal: step === null ? null : order[step],
    action: step === null ? null : step === 'manual_escalation' ? 'task' : 'email',
    reached,
    plansPaid,
    plansPaidInFull,
    amountMinor,
    paidRate: plansPaid / reached,
  });
  const expected = [
    row(1, 'EUR', null, 1, 0, 0, 0),
    row(1, 'EUR', 'upcoming_notice', 1, 1, 0, 9_000),
    // Five USD plans under version 1; S3's 5,000 came before any step.
    row(1, 'USD', null, 5, 1, 0, 5_000),
    // S1–S5 got the notice; S2 paid 10,000 of 50,000 after it.
    row(1, 'USD', 'upcoming_notice', 5, 1, 0, 10_000),
    // S1–S4 got the first reminder (S5's was skipped); S1 paid its 40,000 after it.
    row(1, 'USD', 'first_reminder', 4, 1, 1, 40_000),
    // S2 and S4 got the second; S2 paid its last 40,000 after it (S4's payments came after its escalation).
    row(1, 'USD', 'second_reminder', 2, 1, 1, 40_000),
    // S4 alone was escalated, and paid 20,000 + 10,000 after: one plan, in full.
    row(1, 'USD', 'manual_escalation', 1, 1, 1, 30_000),
    row(2, 'USD', null, 1, 0, 0, 0),
    row(2, 'USD', 'upcoming_notice', 1, 1, 1, 15_000),
  ];

  it('credits each payment to the last step done before it, per policy version and currency, in the policy\'s order', async () => {
    expect((await stepsReport(h.ctx, { policy: stepsPolicy })).rows).toEqual(expected);
    expect((await stepsReport(h.ctx, { policy: stepsPolicy, currency: 'EUR' })).rows).toEqual(expected.slice(0, 2));
    // Initiated before April: none of these.
    expect((await stepsReport(h.ctx, { policy: stepsPolicy, to: '2026-04-05' })).rows).toEqual([]);
  });

  it('credits a payment written before the step it followed, and moves the credit when the journey writes the step again', async () => {
    const late = `steps-late-${run}`;
    await setPolicy(h.ctx, { policy: secondsPolicy(late, { upcoming_notice: 3600 }) });
    const plan = await createPlan(h.ctx.db, { invoices: [{ amountMinor: 30_000, dueOn: '2026-03-30', issuedOn: '2026-03-01' }] });
    await initiated([plan.planId], t0, late);
    // Received on day 6 and reported before the journey wrote any step: nothing to credit yet.
    await h.ctx.db.insert(payments).values({ id: `${run}-late-pay`, planId: plan.planId, amountMinor: 10_000, currency: 'USD', receivedAt: after(6) });
    const credited = async () => (await stepsReport(h.ctx, { policy: late })).rows.filter((r) => r.plansPaid > 0).map((r) => [r.step, r.amountMinor]);
    expect(await credited()).toEqual([[null, 10_000]]);
    // The journey's own write (every step of the plan at each sync), as its activity does it.
    const { syncPlan } = createPlanActivities({ db: h.ctx.db, clock: systemClock });
    const sync = (firstReminderDone: Date | null) =>
      syncPlan({
        planId: plan.planId,
        status: 'in_progress',
        outstandingMinor: 20_000,
        steps: [
          { key: 'upcoming_notice', ordinal: 0, action: 'email', status: 'completed', scheduledFor: t0.toISOString(), completedAt: t0.toISOString() },
          firstReminderDone
            ? { key: 'first_reminder', ordinal: 1, action: 'email', status: 'completed', scheduledFor: after(5).toISOString(), completedAt: firstReminderDone.toISOString() }
            : { key: 'first_reminder', ordinal: 1, action: 'email', status: 'pending', scheduledFor: after(5).toISOString() },
        ],
        tasks: [],
        events: [],
      });
    await sync(null);
    expect(await credited()).toEqual([['upcoming_notice', 10_000]]);
    await sync(after(5));
    expect(await credited()).toEqual([['first_reminder', 10_000]]);
    // Written again unchanged: the credit stays; completed after the payment: back to the notice.
    await sync(after(5));
    expect(await credited()).toEqual([['first_reminder', 10_000]]);
    await sync(after(7));
    expect(await credited()).toEqual([['upcoming_notice', 10_000]]);
  });

  it('answers the same over HTTP, as CSV, and as a table', async () => {
    const answer = await h.call('GET', `/v1/reports/steps?policy=${stepsPolicy}&currency=USD`, { as: 'ops' });
    expect(answer.status).toBe(200);
    expect(answer.body.rows).toEqual(expected.slice(2));
    const csv = await dunning('report', 'steps', '--policy', stepsPolicy, '--currency', 'EUR', '--csv');
    expect(csv.stdout.trim().split('\r\n')).toEqual([
      'policy,policy_version,currency,step,action,reached,plans_paid,plans_paid_in_full,amount_minor,paid_rate',
      `${stepsPolicy},1,EUR,,,1,0,0,0,0`,
      `${stepsPolicy},1,EUR,upcoming_notice,email,1,1,0,9000,1`,
    ]);
    const human = await dunning('report', 'steps', '--policy', stepsPolicy, '--currency', 'USD');
    // Cells split where columns are padded apart (the empty action of the first row just widens a gap).
    const cells = human.stdout.trimEnd().split('\n').map((l) => l.trimEnd().split(/ {2,}/));
    expect(cells[0]).toEqual(['POLICY', 'VERSION', 'CURRENCY', 'STEP', 'ACTION', 'REACHED', 'PAID AFTER', 'IN FULL', 'AMOUNT', 'RATE']);
    expect(cells[1]).toEqual([stepsPolicy, 'v1', 'USD', 'before any step', '5', '1', '0', '$50.00', '20.0 %']);
    expect(cells[5]).toEqual([stepsPolicy, 'v1', 'USD', 'manual_escalation', 'task', '1', '1', '1', '$300.00', '100.0 %']);
    expect(cells[7]).toEqual([stepsPolicy, 'v2', 'USD', 'upcoming_notice', 'email', '1', '1', '1', '$150.00', '100.0 %']);
  });
});

describe('reading a report side by side', () => {
  it('runs its queries on separate connections at once, and never waits for a connection it cannot get', async () => {
    const probe = sql`select pg_backend_pid()::text as pid, pg_sleep(0.2)::text as slept`;
    const answers = (await readTogether(h.ctx, [probe, probe, probe])).map((rows) => rows[0]!);
    expect(new Set(answers.map((a) => a.pid)).size).toBe(3);
    // Eight reports at once on the harness's pool of four connections: all answer (none holds a
    // connection while it waits for another).
    const reports = await Promise.all(Array.from({ length: 8 }, (_, i) => runReport(h.ctx, { name: ['aging', 'recovery', 'steps', 'promises'][i % 4]!, policy })));
    expect(reports).toHaveLength(8);
  });
});

describe('policy versions', () => {
  it('records the version a plan is initiated under, and a later change of the policy starts another', async () => {
    const name = `versioned-${run}`;
    await setPolicy(h.ctx, { policy: secondsPolicy(name, { upcoming_notice: 3600 }) });
    const first = await createPlan(h.ctx.db, { invoices: [{ amountMinor: 10_000, dueOn: '2026-12-30' }] });
    await initiateDunning(h.ctx, { planId: first.planId, policyName: name });
    await h.untilBegun(first.planId);
    expect((await setPolicy(h.ctx, { policy: secondsPolicy(name, { upcoming_notice: 7200 }) })).version).toBe(2);
    const second = await createPlan(h.ctx.db, { invoices: [{ amountMinor: 10_000, dueOn: '2026-12-30' }] });
    await initiateDunning(h.ctx, { planId: second.planId, policyName: name });
    await h.untilBegun(second.planId);
    const rows = await h.ctx.db.select({ id: collectionPlans.id, v: collectionPlans.policyVersion }).from(collectionPlans).where(inArray(collectionPlans.id, [first.planId, second.planId]));
    expect(Object.fromEntries(rows.map((r) => [r.id, r.v]))).toEqual({ [first.planId]: 1, [second.planId]: 2 });
    const recovery = await recoveryReport(h.ctx, { policy: name });
    expect(recovery.rows.filter((r) => r.week === null).map((r) => [r.policyVersion, r.plans])).toEqual([[1, 1], [2, 1]]);
  });
});

describe('bad input', () => {
  const cases: Array<{ what: string; cli: string[]; http: string; status: number; detail: string }> = [
    { what: 'an unknown report', cli: ['report', 'speed'], http: '/v1/reports/speed', status: 404, detail: 'Unknown report "speed"; the reports are aging, promises, recovery, steps.' },
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

  it('reads each report through runReport, as both doors do', async () => {
    for (const name of ['aging', 'promises', 'recovery', 'steps']) expect((await runReport(h.ctx, { name, policy })).report).toBe(name);
  });

  it('refuses a bad date and a period that ends before it begins', async () => {
    await expect(runReport(h.ctx, { name: 'recovery', from: '2026-02-30' })).rejects.toThrow('"from" must be a date like 2026-12-15, not "2026-02-30".');
    await expect(runReport(h.ctx, { name: 'promises', from: '2026-03-02', to: '2026-03-01' })).rejects.toThrow('"from" (2026-03-02) is after "to" (2026-03-01).');
  });
});
