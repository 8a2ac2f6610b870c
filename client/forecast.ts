// What the open plans will do over the days ahead, for ops: the emails and rep tasks their
// policies' steps will make each day, and how long the mail queue takes to drain on the busiest
// day at the provider's rate. Read from the orchestration steps the journeys keep, so it shows
// the calendar each plan actually runs on (its own policy snapshot, re-anchored after payments).
import { sql } from 'drizzle-orm';
import { nextInSendWindow } from '../workflows/domain/calendar';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';
import { and, checkCurrency, checkPolicy, closedStatuses, reportQuery } from './reports';

const DAY_MS = 86_400_000;
export const forecastDays = { default: 30, max: 90 } as const;

export interface ForecastInput {
  /** How many days ahead, today included: a whole number from 1 to 90 (text as the CLI and HTTP give it). */
  days?: number | string;
  /** Plans under this policy. */
  policy?: string;
  /** Plans in this ISO 4217 currency. */
  currency?: string;
  /** Emails per second the mail provider takes (config `mail.ratePerSecond` × `mail.batchSize`), for the drain time. */
  ratePerSecond: number;
  /** When the forecast is made; tests pin it. */
  now?: Date;
}

export interface ForecastDay {
  /** A UTC calendar day, YYYY-MM-DD: 00:00 to 24:00 UTC. */
  date: string;
  emails: number;
  tasks: number;
}

export interface Forecast {
  /** When it was made: the first day is this instant's UTC date. */
  asOf: string;
  /** Every day from today on, in order, days with nothing due included. */
  days: ForecastDay[];
  totals: { emails: number; tasks: number };
  /** The day with the most emails (the earliest of equals); null when no email is due. */
  busiestDay: { date: string; emails: number } | null;
  ratePerSecond: number;
  /**
   * Seconds the busiest day's emails take to send at `ratePerSecond` were they queued at once
   * (they are when a send window opens on many contacts together); 0 when no email is due.
   */
  drainSeconds: number;
  /** Open plans left out: they send nothing until a rep or a date ends the pause or the promise. */
  leftOut: { paused: number; promised: number };
}

/** The number of days, or one sentence for what is wrong with it. */
function checkedDays(days: number | string | undefined): number {
  if (days === undefined) return forecastDays.default;
  const n = typeof days === 'number' ? days : /^\d{1,3}$/.test(days) ? Number(days) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > forecastDays.max) {
    throw new DunningError(`"days" must be a whole number from 1 to ${forecastDays.max}, not "${days}".`, 'invalid');
  }
  return n;
}

const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The emails and tasks the open plans' steps make per day over the next `days` UTC calendar
 * days (today first), and the busiest day's drain time at the provider's rate.
 *
 * - A step counts while it has not run: pending, waiting, or in progress (an email the mail
 *   queue has not sent yet), on the day it will run: its stored time, or now when that has passed.
 * - The stored time (`scheduled_for`) is the policy's time until the step's turn comes: only then
 *   does the send check the window and, outside it, store the window's opening instead. So an
 *   email is placed in its window here: the window of its plan's policy snapshot, in the
 *   account's time zone, by the rule `nextInSendWindow` applies (the database tells, to the
 *   minute, which emails fall outside; `nextInSendWindow` works out when their window opens).
 *   Tasks do not wait. A step stays on its own time even when the step before it is still
 *   waiting for the window (the journey runs them in order; a policy's steps are days apart).
 * - Only plans that are moving count: not closed (resolved, cancelled, written off), not paused
 *   (on_hold) and not under an open promise, whose reminders hold until it is checked. Those
 *   two are counted apart in `leftOut`: what they send depends on how the pause or promise ends.
 * - Receipts and promise notices are emails too, but answer events no one can foresee: not counted.
 *
 * The database picks the open steps due before the window ends through the partial index
 * `orchestration_steps_open_by_time`, and groups emails that wait for a window by the day their
 * window opens, so the window is worked out once per time zone, window and day, not per step.
 */
export async function forecast(ctx: DatabaseContext, input: ForecastInput): Promise<Forecast> {
  const days = checkedDays(input.days);
  checkCurrency(input.currency);
  await checkPolicy(ctx, input.policy);
  const now = input.now ?? new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const nowIso = now.toISOString();
  const endIso = new Date(start + days * DAY_MS).toISOString();
  const filters = [
    input.policy === undefined ? undefined : sql`p.policy_name = ${input.policy}`,
    input.currency === undefined ? undefined : sql`p.currency = ${input.currency}`,
  ];
  const openPromise = sql`exists (select 1 from payment_promises pp where pp.plan_id = p.id and pp.status = 'open')`;

  // The plans left out, counted while the steps are placed.
  const held = reportQuery<{ paused: number; promised: number }>(ctx, sql`
    select
      (select count(*) from collection_plans p where ${and([sql`p.status = 'on_hold'`, ...filters])})::int as paused,
      (select count(*) from collection_plans p where ${and([sql`p.status not in ${closedStatuses} and p.status <> 'on_hold' and ${openPromise}`, ...filters])})::int as promised`);
  // An email outside its window waits until the window opens: later that local day, or the next
  // one when the window has closed for the day (`opens <= closes`; a window across midnight
  // always opens later the same day). A window from = to is the whole day, as in nextInSendWindow.
  // Steps due in the same UTC minute for plans with the same zone and window are placed alike
  // (windows are whole minutes), so they are counted together first and each such group is
  // placed once: tens of thousands of steps come down to the few minutes they fall in. Each
  // `offset 0` keeps PostgreSQL from inlining a level into the next, which would work out the
  // local time once per use instead of once per group.
  const placedGroups = reportQuery<{ action: 'email' | 'task'; day: string | null; zone: string | null; from: string | null; to: string | null; firstMs: string; n: number }>(ctx, sql`
    with due as (
      select s.action, date_trunc('minute', greatest(s.scheduled_for, ${nowIso}::timestamptz)) as at,
        min(greatest(s.scheduled_for, ${nowIso}::timestamptz)) as first_at, count(*)::int as n, p.zone, p.wfrom, p.wto
      from orchestration_steps s
      join (
        select p.id, a.timezone as zone, p.send_window_from as wfrom, p.send_window_to as wto
        from collection_plans p
        join accounts a on a.id = p.account_id
        where ${and([sql`p.status not in ${closedStatuses} and p.status <> 'on_hold' and not ${openPromise}`, ...filters])}
      ) p on p.id = s.plan_id
      -- Emails to send and tasks for reps; a policy's end action (write-off, hand-off) is neither.
      where s.status in ('pending', 'waiting', 'in_progress') and s.action in ('email', 'task') and s.scheduled_for < ${endIso}::timestamptz
      group by s.action, 2, p.zone, p.wfrom, p.wto
      offset 0
    ), windowed as (
      select *, split_part(wfrom, ':', 1)::int * 60 + split_part(wfrom, ':', 2)::int as opens,
        split_part(wto, ':', 1)::int * 60 + split_part(wto, ':', 2)::int as closes
      from due offset 0
    ), localised as (
      select *, case when action = 'email' and opens <> closes then at at time zone zone end as local from windowed offset 0
    ), placed as (
      select *, (extract(hour from local) * 60 + extract(minute from local))::int as minute from localised offset 0
    ), classified as (
      select *, coalesce(not case when opens <= closes then minute >= opens and minute < closes else minute >= opens or minute < closes end, false) as waits
      from placed offset 0
    )
    select action,
      case when not waits then (at at time zone 'UTC')::date::text end as day,
      case when waits then zone end as zone, case when waits then wfrom end as "from", case when waits then wto end as "to",
      case when waits then (local::date + case when opens <= closes and minute >= closes then 1 else 0 end)::text end as opens_on,
      (extract(epoch from min(first_at)) * 1000)::bigint::text as "firstMs", sum(n)::int as n
    from classified
    group by 1, 2, 3, 4, 5, 6`);
  // Both read side by side, each on its own connection (see readTogether).
  const [groups, [leftOut]] = await Promise.all([placedGroups, held]);

  const byDate = new Map<string, ForecastDay>();
  const list = Array.from({ length: days }, (_, i) => {
    const day = { date: utcDate(start + i * DAY_MS), emails: 0, tasks: 0 };
    byDate.set(day.date, day);
    return day;
  });
  for (const g of groups) {
    // Every email of a group waits for the same opening: the window's start on one local day.
    const date = g.day ?? utcDate(nextInSendWindow(new Date(Number(g.firstMs)), { from: g.from!, to: g.to! }, g.zone!).getTime());
    const day = byDate.get(date);
    if (!day) continue; // its window opens after the last day
    if (g.action === 'email') day.emails += g.n;
    else day.tasks += g.n;
  }

  const totals = { emails: list.reduce((sum, d) => sum + d.emails, 0), tasks: list.reduce((sum, d) => sum + d.tasks, 0) };
  const busiest = list.reduce<ForecastDay | undefined>((best, d) => (d.emails > (best?.emails ?? 0) ? d : best), undefined);
  return {
    asOf: now.toISOString(),
    days: list,
    totals,
    busiestDay: busiest ? { date: busiest.date, emails: busiest.emails } : null,
    ratePerSecond: input.ratePerSecond,
    drainSeconds: busiest ? busiest.emails / input.ratePerSecond : 0,
    leftOut: { paused: leftOut!.paused, promised: leftOut!.promised },
  };
}
