// The forecast on scenarios whose counts are worked out by hand below. A few plans run real
// journeys (their steps written by the engine itself); the send-window cases are plans imported
// through the real import code whose orchestration steps are then written straight to the table
// with the times each case needs, since a journey cannot be made to wait weeks. Other suites share
// the database, so every forecast is read under this run's own policies. Days are UTC days:
// D(k) is the UTC date k days from today.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durationInWords } from '../client/commands/reports';
import { cancel, initiateDunning, pause, recordPromise } from '../client/dunning';
import { forecast, type Forecast } from '../client/forecast';
import { setPolicy } from '../client/policies';
import { collectionPlans, orchestrationSteps, paymentPromises } from '../db/schema';
import { policySnapshotWrite } from '../db/plans';
import type { SendWindow } from '../workflows/domain/policy';
import type { StepStatus } from '../workflows/domain/statuses';
import { runDunning } from './engine-process';
import { createPlan, eventually, secondsPolicy, zoneWhereLocalHourIs } from './fixtures';
import { startApiHarness, type ApiHarness } from './http-support';
import { cliEnv } from './support';

let h: ApiHarness;
let env: NodeJS.ProcessEnv;
const run = randomUUID().slice(0, 6);
/** The seeded scenario's policy; its own window is 08:00–21:00, as most seeded plans' snapshots. */
const policy = `forecast-${run}`;
/** The real journeys' policy: an email two days after initiation, a task five days after. */
const livePolicy = `forecast-live-${run}`;
const dayWindow: SendWindow = { from: '08:00', to: '21:00' };
/** The rate the command line reads from its config file; the HTTP harness's config says 200. */
const cliRate = 0.5;
const cliBatch = 4; // emails per request: the drain goes at cliRate × cliBatch emails per second

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
let today: number;
/** UTC midnight k days from today, plus `hhmm` ("22:00") when given. */
const at = (k: number, hhmm = '00:00') => new Date(today + k * DAY + Number(hhmm.slice(0, 2)) * HOUR + Number(hhmm.slice(3)) * 60_000);
const D = (k: number) => utcDate(today + k * DAY);

const dunning = (...args: string[]) => runDunning(args, env);

/**
 * So that "today" holds for the whole file (which takes about a minute): close to a UTC midnight,
 * waits until it has passed (within the hook's three minutes).
 */
async function clearOfMidnight() {
  const left = DAY - (Date.now() % DAY);
  if (left < 170_000) await new Promise((r) => setTimeout(r, left + 1_000));
}

interface SeededStep {
  action: 'email' | 'task' | 'write_off';
  at: Date;
  status?: StepStatus;
}

/**
 * An imported plan as a journey under `policy` leaves it: its snapshot (with `window`, or none),
 * its status, and steps with the given times (keys s1, s2, … in order).
 */
async function seedPlan(p: { timezone: string; window: SendWindow | null; steps: SeededStep[]; status?: 'in_progress' | 'escalated' | 'on_hold' | 'cancelled'; currency?: string; policyName?: string; promise?: 'open' | 'kept' }) {
  const plan = await createPlan(h.ctx.db, { timezone: p.timezone, currency: p.currency, invoices: [{ amountMinor: 50_000, dueOn: utcDate(Date.now() - 10 * DAY) }] });
  const name = p.policyName ?? policy;
  const snapshot = secondsPolicy(name, { first_reminder: 3600 }, p.window ? { sendWindow: p.window } : {});
  const written = policySnapshotWrite(h.ctx.db, plan.planId, snapshot);
  await h.ctx.db
    .with(written.snapshot)
    .update(collectionPlans)
    .set({ policyName: name, ...written.columns, status: p.status ?? 'in_progress', initiatedAt: new Date(Date.now() - 10 * DAY), closedAt: p.status === 'cancelled' ? new Date() : null })
    .where(eq(collectionPlans.id, plan.planId));
  await h.ctx.db.insert(orchestrationSteps).values(
    p.steps.map((s, i) => ({ planId: plan.planId, key: `s${i + 1}`, ordinal: i, action: s.action, status: s.status ?? 'pending', scheduledFor: s.at })),
  );
  if (p.promise) {
    await h.ctx.db.insert(paymentPromises).values({ id: `${plan.planId}:promise:1`, planId: plan.planId, amountMinor: 1_000, dueOn: at(3), status: p.promise });
  }
  return plan;
}

/** Every day of the forecast from hand-written counts by day offset; unlisted days are 0 and 0. */
function expectedDays(days: number, counts: Record<number, { emails?: number; tasks?: number }>) {
  return Array.from({ length: days }, (_, k) => ({ date: D(k), emails: counts[k]?.emails ?? 0, tasks: counts[k]?.tasks ?? 0 }));
}

/** What the forecast says, without the instant it was made. */
const figures = ({ asOf: _asOf, ...rest }: Forecast) => rest;

beforeAll(clearOfMidnight);
beforeAll(async () => {
  today = Date.parse(`${utcDate(Date.now())}T00:00:00Z`);
  h = await startApiHarness('forecast');
  env = cliEnv(h.stack);
  // The command line's config: the stack's task queues, and a mail rate of its own.
  const configFile = path.join(h.stack.config.dataDir, 'forecast.config.json');
  writeFileSync(configFile, JSON.stringify({ temporal: { taskQueues: h.stack.config.temporal.taskQueues }, mail: { ratePerSecond: cliRate, batchSize: cliBatch } }));
  env = { ...env, DUNNING_CONFIG: configFile };
  await setPolicy(h.ctx, { policy: secondsPolicy(policy, { first_reminder: 3600 }, { sendWindow: dayWindow }) });
  await setPolicy(h.ctx, { policy: secondsPolicy(livePolicy, { first_reminder: 2 * 86_400, manual_escalation: 5 * 86_400 }, { maxPromises: 1 }) });
});
afterAll(async () => {
  await h?.close();
});

describe('the seeded scenario', () => {
  /** Where an overdue email waits for a window that is closed now (E2): the window's next opening. */
  let lateOpening: number;
  let cancelledPlanId: string;

  beforeAll(async () => {
    const now = Date.now();
    // A: UTC, 08:00–21:00.
    await seedPlan({
      timezone: 'Etc/GMT',
      window: dayWindow,
      steps: [
        { action: 'email', at: at(2, '10:00') }, // inside: D2
        { action: 'email', at: at(2, '22:00') }, // after the window: D3 08:00
        { action: 'task', at: at(2, '22:00') }, // tasks do not wait: D2
        { action: 'email', at: at(4, '21:00'), status: 'waiting' }, // the window has just closed: D5 08:00
        { action: 'email', at: at(4, '08:00') }, // it has just opened: D4
        { action: 'email', at: at(29, '22:00') }, // opens on D30, past the last day: not counted
        { action: 'task', at: at(29, '23:59') }, // D29, the last day
        { action: 'email', at: at(30) }, // past the last day
        { action: 'email', at: at(3, '10:00'), status: 'completed' }, // done: none of these count
        { action: 'email', at: at(3, '10:00'), status: 'skipped' },
        { action: 'task', at: at(3, '10:00'), status: 'cancelled' },
        { action: 'email', at: at(3, '10:00'), status: 'failed' },
      ],
    });
    // B: UTC+10, 08:00–21:00 local is 22:00 (the day before) to 11:00 UTC.
    await seedPlan({
      timezone: 'Etc/GMT-10',
      window: dayWindow,
      steps: [
        { action: 'email', at: at(5, '02:00') }, // 12:00 local: D5
        { action: 'email', at: at(5, '05:00') }, // 15:00 local: D5
        { action: 'email', at: at(5, '12:00') }, // 22:00 local, waits for 08:00 local = 22:00 UTC: still D5
        { action: 'email', at: at(6, '20:00') }, // 06:00 local on D7, waits for 08:00 local = 22:00 UTC: D6
      ],
    });
    // C: UTC−5, a window across midnight (22:00–06:00) in the plan's snapshot, not its policy's.
    await seedPlan({
      timezone: 'Etc/GMT+5',
      window: { from: '22:00', to: '06:00' },
      steps: [
        { action: 'email', at: at(8, '15:00') }, // 10:00 local, waits for 22:00 local = 03:00 UTC: D9
        { action: 'email', at: at(10, '04:00') }, // 23:00 local on D9: inside, D10
        { action: 'email', at: at(10, '10:30') }, // 05:30 local: inside, D10
      ],
    });
    // G: UTC, a window closing at half past (21:30): steps are placed to the minute.
    await seedPlan({
      timezone: 'Etc/GMT',
      window: { from: '08:00', to: '21:30' },
      steps: [
        { action: 'email', at: at(12, '21:15') }, // inside: D12
        { action: 'email', at: at(12, '21:45') }, // after the window, in its last hour: D13 08:00
        { action: 'email', at: at(13, '21:30') }, // the window has just closed: D14 08:00
      ],
    });
    // D: no window at all: any time.
    await seedPlan({ timezone: 'Etc/GMT-10', window: null, steps: [{ action: 'email', at: at(11, '23:00') }] });
    // E1: overdue, where it is about noon now, so inside the window: today.
    await seedPlan({
      timezone: zoneWhereLocalHourIs(12),
      window: dayWindow,
      steps: [
        { action: 'email', at: new Date(now - 3 * DAY), status: 'waiting' },
        { action: 'email', at: new Date(now - HOUR), status: 'in_progress' },
        { action: 'task', at: new Date(now - 2 * DAY) },
      ],
    });
    // E2: overdue where it is 23:xx now (a whole-hour zone): it waits for 08:00 there, which is
    // the start of this hour plus nine hours; today or tomorrow in UTC, depending on the hour.
    await seedPlan({ timezone: zoneWhereLocalHourIs(23), window: dayWindow, steps: [{ action: 'email', at: new Date(now - DAY) }] });
    lateOpening = now - (now % HOUR) + 9 * HOUR;
    // F: plans whose steps do not count, or count elsewhere.
    const steps: SeededStep[] = [
      { action: 'email', at: at(2, '10:00') },
      { action: 'task', at: at(2, '10:00') },
    ];
    cancelledPlanId = (await seedPlan({ timezone: 'Etc/GMT', window: dayWindow, steps, status: 'cancelled' })).planId; // closed
    await seedPlan({ timezone: 'Etc/GMT', window: dayWindow, steps, status: 'on_hold' }); // paused: left out
    await seedPlan({ timezone: 'Etc/GMT', window: dayWindow, steps, status: 'escalated', promise: 'open' }); // an open promise holds it: left out
    await seedPlan({ timezone: 'Etc/GMT', window: dayWindow, steps: [steps[0]!], promise: 'kept' }); // a kept promise holds nothing: D2
    await seedPlan({ timezone: 'Etc/GMT', window: dayWindow, steps: [steps[0]!], status: 'escalated', currency: 'EUR' }); // escalated still sends: D2
    await seedPlan({ timezone: 'Etc/GMT', window: dayWindow, steps, policyName: livePolicy, status: 'cancelled' }); // another policy (and closed)
  });

  /** The counts by day, worked out case by case above. */
  const counts = () => {
    const late = Math.round((Date.parse(`${utcDate(lateOpening)}T00:00:00Z`) - today) / DAY); // 0 or 1
    const c: Record<number, { emails?: number; tasks?: number }> = {
      0: { emails: 2, tasks: 1 }, // E1
      2: { emails: 3, tasks: 1 }, // A1, kept promise, EUR; A3
      3: { emails: 1 }, // A2
      4: { emails: 1 }, // A5
      5: { emails: 4 }, // A4, B1, B2, B3
      6: { emails: 1 }, // B4
      9: { emails: 1 }, // C1
      10: { emails: 2 }, // C2, C3
      11: { emails: 1 }, // D1
      12: { emails: 1 }, // G1
      13: { emails: 1 }, // G2
      14: { emails: 1 }, // G3
      29: { tasks: 1 }, // A7
    };
    c[late] = { ...c[late], emails: (c[late]?.emails ?? 0) + 1 }; // E2
    return c;
  };
  const expected = (rate: number): Omit<Forecast, 'asOf'> => ({
    days: expectedDays(30, counts()),
    // 2 + 1 (E2) + 3 + 1 + 1 + 4 + 1 + 1 + 2 + 1 + 3 (G) emails; E1, A3 and A7 tasks.
    totals: { emails: 20, tasks: 3 },
    busiestDay: { date: D(5), emails: 4 },
    ratePerSecond: rate,
    drainSeconds: 4 / rate,
    leftOut: { paused: 1, promised: 1 },
  });

  it('counts each step on the day it will run, emails in their window, over 30 UTC days', async () => {
    expect(figures(await forecast(h.ctx, { policy, ratePerSecond: 2 }))).toEqual(expected(2));
  });

  it('narrows to fewer days, to a currency, and names the earliest of equally busy days', async () => {
    const tenDays = await forecast(h.ctx, { policy, days: '10', ratePerSecond: 2 });
    expect(tenDays.days).toEqual(expectedDays(10, counts()));
    expect(tenDays.totals).toEqual({ emails: 20 - 6, tasks: 2 }); // C2, C3, D1, G1–G3 and A7 fall after
    // Four days: today has 2 or 3 emails (E2), D2 has 3; a tie goes to the earlier day.
    const fourDays = await forecast(h.ctx, { policy, days: 4, ratePerSecond: 2 });
    const todayEmails = counts()[0]!.emails!;
    expect(fourDays.busiestDay).toEqual(todayEmails === 3 ? { date: D(0), emails: 3 } : { date: D(2), emails: 3 });
    const euros = await forecast(h.ctx, { policy, currency: 'EUR', ratePerSecond: 2 });
    expect(figures(euros)).toEqual({
      days: expectedDays(30, { 2: { emails: 1 } }),
      totals: { emails: 1, tasks: 0 },
      busiestDay: { date: D(2), emails: 1 },
      ratePerSecond: 2,
      drainSeconds: 0.5,
      leftOut: { paused: 0, promised: 0 },
    });
  });

  it('answers the same over HTTP for ops, at the API config\'s mail rate', async () => {
    const answer = await h.call('GET', `/v1/forecast?policy=${policy}`, { as: 'ops' });
    expect(answer.status).toBe(200);
    expect(figures(answer.body)).toEqual(expected(h.ctx.config.mail.ratePerSecond * h.ctx.config.mail.batchSize));
    expect(h.ctx.config.mail).toMatchObject({ ratePerSecond: 200, batchSize: 100 });
  });

  it('prints a table per UTC day, the busiest day\'s drain time in words, and the plans left out; JSON and CSV alike', async () => {
    const json = await dunning('forecast', '--policy', policy, '--json');
    expect(json.stderr).toBe('');
    expect(figures(JSON.parse(json.stdout))).toEqual(expected(cliRate * cliBatch));

    const csv = await dunning('forecast', '--policy', policy, '--csv');
    expect(csv.stdout.trim().split('\r\n')).toEqual(['date,emails,tasks', ...expectedDays(30, counts()).map((d) => `${d.date},${d.emails},${d.tasks}`)]);

    const human = await dunning('forecast', '--policy', policy);
    const lines = human.stdout.split('\n').map((l) => l.trimEnd());
    expect(lines[0]).toBe(`Emails and tasks due per day, ${D(0)} to ${D(29)}. Days are UTC calendar days; each email is placed in its contact's send window.`);
    expect(lines[2]).toBe('DATE (UTC)  EMAILS  TASKS');
    expect(lines).toContain(`${D(5)}  4       0`);
    expect(lines).toContain(`${D(29)}  0       1`);
    expect(lines).toContain('TOTAL       20      3');
    // 4 emails at 0.5 requests per second of 4 emails each: 2 seconds.
    expect(lines).toContain(`The busiest day, ${D(5)}, has 4 emails: about 2 s to send at 2 per second.`);
    expect(lines).toContain('Not counted: 1 paused plan and 1 plan under a promise; they send nothing until the pause or the promise ends.');
  });

  it('never counts a closed plan\'s steps, even those still pending', async () => {
    const [open] = await h.ctx.db.select().from(orchestrationSteps).where(inArray(orchestrationSteps.planId, [cancelledPlanId]));
    expect(open?.status).toBe('pending');
    expect((await forecast(h.ctx, { policy, ratePerSecond: 2 })).days[2]).toEqual({ date: D(2), emails: 3, tasks: 1 });
  });
});

describe('a policy that ends with an action', () => {
  it('counts its emails, and not its end action as a task for a rep', async () => {
    const ending = `forecast-end-${run}`;
    const endPolicy = secondsPolicy(ending, { first_reminder: 3600 });
    endPolicy.steps.push({ key: 'end_of_dunning', action: 'write_off', at: 'PT7200S', from: 'initiated' });
    await setPolicy(h.ctx, { policy: endPolicy });
    await seedPlan({ timezone: 'Etc/UTC', window: null, policyName: ending, steps: [{ action: 'email', at: at(2, '12:00') }, { action: 'write_off', at: at(3, '12:00') }] });
    const upcoming = await forecast(h.ctx, { policy: ending, ratePerSecond: 2, days: 7 });
    expect(upcoming.days).toEqual(expectedDays(7, { 2: { emails: 1 } }));
    expect(upcoming.totals).toEqual({ emails: 1, tasks: 0 });
  });
});

describe('real journeys', () => {
  let initiatedAt: number;

  beforeAll(async () => {
    const plans = await Promise.all([1, 2, 3, 4].map(() => createPlan(h.ctx.db, { timezone: 'Etc/GMT', invoices: [{ amountMinor: 90_000, dueOn: utcDate(Date.now() + 20 * DAY) }] })));
    initiatedAt = Date.now();
    for (const { planId } of plans) {
      await initiateDunning(h.ctx, { planId, policyName: livePolicy });
      await h.untilBegun(planId);
    }
    const [, paused, promised, cancelled] = plans.map((p) => p!.planId);
    await pause(h.ctx, { planId: paused!, reason: 'Dispute' });
    await recordPromise(h.ctx, { planId: promised!, amountMinor: 10_000, dueAt: new Date(Date.now() + 7 * DAY).toISOString() });
    await cancel(h.ctx, { planId: cancelled!, reason: 'Sold the debt' });
    // The loop writes each plan's new status after its update has answered.
    const statuses = { [paused!]: 'on_hold', [promised!]: 'promised', [cancelled!]: 'cancelled' };
    await eventually(async () => {
      const rows = await h.ctx.db.select({ id: collectionPlans.id, status: collectionPlans.status }).from(collectionPlans).where(inArray(collectionPlans.id, Object.keys(statuses)));
      return rows.every((r) => r.status === statuses[r.id]) ? true : undefined;
    }, 'the plans to be paused, promised and cancelled');
  });

  it('counts what the engine scheduled for a running plan, and leaves out the paused and the promised', async () => {
    // The running plan's email two days after initiation, its task five days after (UTC, no window);
    // the cancelled plan's steps were cancelled with it.
    const emailDay = Math.round((Date.parse(`${utcDate(initiatedAt + 2 * DAY)}T00:00:00Z`) - today) / DAY);
    const taskDay = Math.round((Date.parse(`${utcDate(initiatedAt + 5 * DAY)}T00:00:00Z`) - today) / DAY);
    const result = await forecast(h.ctx, { policy: livePolicy, days: 7, ratePerSecond: 2 });
    expect(figures(result)).toEqual({
      days: expectedDays(7, { [emailDay]: { emails: 1 }, [taskDay]: { tasks: 1 } }),
      totals: { emails: 1, tasks: 1 },
      busiestDay: { date: D(emailDay), emails: 1 },
      ratePerSecond: 2,
      drainSeconds: 0.5,
      leftOut: { paused: 1, promised: 1 },
    });
  });
});

describe('bad input and roles', () => {
  const cases: Array<{ what: string; cli: string[]; http: string; status: number; detail: string }> = [
    { what: 'zero days', cli: ['--days', '0'], http: 'days=0', status: 422, detail: '"days" must be a whole number from 1 to 90, not "0".' },
    { what: '91 days', cli: ['--days', '91'], http: 'days=91', status: 422, detail: '"days" must be a whole number from 1 to 90, not "91".' },
    { what: 'days that are not a number', cli: ['--days', 'abc'], http: 'days=abc', status: 422, detail: '"days" must be a whole number from 1 to 90, not "abc".' },
    { what: 'a fraction of days', cli: ['--days', '1.5'], http: 'days=1.5', status: 422, detail: '"days" must be a whole number from 1 to 90, not "1.5".' },
    { what: 'a bad currency', cli: ['--currency', 'usd'], http: 'currency=usd', status: 422, detail: 'The currency must be a three-letter code like USD, not "usd".' },
    { what: 'an unknown policy', cli: ['--policy', 'no-such-policy'], http: 'policy=no-such-policy', status: 404, detail: 'Unknown policy "no-such-policy"; see `dunning policy list`.' },
  ];
  it.each(cases)('refuses $what in one sentence, the same on the command line and over HTTP', async ({ cli, http, status, detail }) => {
    const answer = await h.call('GET', `/v1/forecast?${http}`, { as: 'ops' });
    expect(answer.status).toBe(status);
    expect(answer.body.detail).toBe(detail);
    const r = await dunning('forecast', ...cli);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(detail);
    await expect(forecast(h.ctx, { ratePerSecond: 2, ...Object.fromEntries([[cli[0]!.slice(2), cli[1]]]) })).rejects.toThrow(detail);
  });

  it('refuses --json with --csv, and a parameter it does not take', async () => {
    expect((await dunning('forecast', '--json', '--csv')).stderr.trim()).toBe('Choose one of --json and --csv.');
    const answer = await h.call('GET', '/v1/forecast?from=2026-01-01', { as: 'ops' });
    expect(answer.status).toBe(422);
  });

  it.each(['rep', 'billing'] as const)('is for ops keys: a %s key is refused with 403', async (role) => {
    const answer = await h.call('GET', `/v1/forecast?policy=${policy}`, { as: role });
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: 'forbidden', detail: `The ${role} role may not GET /v1/forecast; it is for ops keys.` });
  });
});

describe('the drain time in words', () => {
  it.each([
    [617, '10 min 17 s'],
    [0.02, 'under a second'],
    [8, '8 s'],
    [3_600, '1 h'],
    [3_661.4, '1 h 1 min 1 s'],
    [90_000, '25 h'],
  ])('%s seconds read "%s"', (seconds, words) => {
    expect(durationInWords(seconds)).toBe(words);
  });
});
