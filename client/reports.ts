// How well dunning works, for ops: aging of what is open, promises by rep, recovery by
// initiation week and policy. Each report reads the tables the journey keeps and returns plain
// data; the CLI and the HTTP API render it. Money is never summed across currencies: every
// figure of money sits on a row that names its currency.
import { sql, type SQL } from 'drizzle-orm';
import { getPolicy } from '../db/policies';
import { unknownPolicy, type DatabaseContext } from './context';
import { DunningError } from './errors';
import { closedPlanStatuses } from '../workflows/domain/statuses';

export const reportNames = ['aging', 'promises', 'recovery', 'steps'] as const;
export type ReportName = (typeof reportNames)[number];

/** What a report may be narrowed by; each report says which of these it takes. */
export interface ReportFilter {
  /** Plans under this policy. */
  policy?: string;
  /** ISO 4217 code: amounts in this currency only. */
  currency?: string;
  /** First day (UTC, inclusive) of the report's period: promises made, plans initiated. */
  from?: string;
  /** Last day (UTC, inclusive) of that period. */
  to?: string;
}

export const filtersOf: Record<ReportName, ReadonlyArray<keyof ReportFilter>> = {
  aging: ['policy', 'currency'],
  promises: ['policy', 'currency', 'from', 'to'],
  recovery: ['policy', 'currency', 'from', 'to'],
  steps: ['policy', 'currency', 'from', 'to'],
};

const isReportName = (name: string): name is ReportName => (reportNames as readonly string[]).includes(name);
const isDate = (text: string) => /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);

/** A currency filter must be an ISO 4217 code; the same sentence for every read that takes one. */
export function checkCurrency(currency: string | undefined): void {
  if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) {
    throw new DunningError(`The currency must be a three-letter code like USD, not "${currency}".`, 'invalid');
  }
}

/** A policy filter must name a policy the db knows (the unknown_policy refusal otherwise). */
export async function checkPolicy({ db }: DatabaseContext, policy: string | undefined): Promise<void> {
  if (policy !== undefined && !(await getPolicy(db, policy))) throw unknownPolicy(policy);
}

/** The filter checked for this report, with one sentence for what is wrong; the same on every door. */
async function checkedFilter(ctx: DatabaseContext, name: ReportName, filter: ReportFilter): Promise<ReportFilter> {
  for (const key of Object.keys(filter) as Array<keyof ReportFilter>) {
    if (filter[key] !== undefined && !filtersOf[name].includes(key)) {
      throw new DunningError(`The ${name} report takes no "${key}" filter; it takes ${filtersOf[name].map((k) => `"${k}"`).join(', ')}.`, 'invalid');
    }
  }
  checkCurrency(filter.currency);
  for (const key of ['from', 'to'] as const) {
    const value = filter[key];
    if (value !== undefined && !isDate(value)) throw new DunningError(`"${key}" must be a date like 2026-12-15, not "${value}".`, 'invalid');
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    throw new DunningError(`"from" (${filter.from}) is after "to" (${filter.to}).`, 'invalid');
  }
  await checkPolicy(ctx, filter.policy);
  return filter;
}

export interface AgingReport {
  report: 'aging';
  /** When the days past due were counted; each account's today is its own time zone's date then. */
  asOf: string;
  rows: Array<{
    currency: string;
    /** Plans with something open in this currency. */
    plans: number;
    notDueMinor: number;
    days1to30Minor: number;
    days31to60Minor: number;
    days61to90Minor: number;
    over90Minor: number;
    totalMinor: number;
  }>;
}

export interface PromisesReport {
  report: 'promises';
  rows: Array<{
    /** The rep who recorded the promises; null when none was named. */
    rep: string | null;
    made: number;
    kept: number;
    broken: number;
    /** Neither kept nor broken yet (open), or cancelled with their plan. */
    pending: number;
    /** kept / (kept + broken), 0–1; null while none was kept or broken. */
    keptRate: number | null;
  }>;
}

export interface RecoveryRow {
  policy: string;
  /** The policy's version the plans were initiated under; null for plans from before versions were recorded. */
  policyVersion: number | null;
  currency: string;
  /** Monday (UTC) of the week the plans were initiated in; null on the policy's row for all weeks. */
  week: string | null;
  plans: number;
  /** What the plans owed when dunning began: paid since initiation plus still open. */
  enteringMinor: number;
  /** Paid since initiation. */
  recoveredMinor: number;
  /** recovered / entering, 0–1; null when nothing entered. */
  recoveryRate: number | null;
  /** Plans resolved (paid in full). */
  resolved: number;
  /** Days from initiation to resolved over the resolved plans (continuous percentiles), to 0.01 day. */
  medianDaysToResolve: number | null;
  p90DaysToResolve: number | null;
}

export interface RecoveryReport {
  report: 'recovery';
  rows: RecoveryRow[];
}

export interface StepsRow {
  policy: string;
  /** The policy's version the plans were initiated under; null for plans from before versions were recorded. */
  policyVersion: number | null;
  currency: string;
  /** The step's key; null on the row for what came in after initiation, before any step was done. */
  step: string | null;
  /** Where the step stands in the policy (0 first); null on the row before any step. */
  ordinal: number | null;
  action: 'email' | 'task' | null;
  /** Plans that went through this step (it completed); on the row before any step, the plans initiated. */
  reached: number;
  /** Plans that paid something after this step and before their next step was done (last touch). */
  plansPaid: number;
  /** Of those, plans resolved by a payment in that span: their last payment came then. */
  plansPaidInFull: number;
  /** What those plans paid in that span. */
  amountMinor: number;
  /** plansPaid / reached, 0–1; null when no plan reached the step. */
  paidRate: number | null;
}

export interface StepsReport {
  report: 'steps';
  rows: StepsRow[];
}

export type Report = AgingReport | PromisesReport | RecoveryReport | StepsReport;

/**
 * A report's query (the forecast's too), in a read-only transaction with room to sort and hash
 * in memory (the percentiles and per-plan sums over 100,000 plans would otherwise spill to disk
 * at PostgreSQL's default 4 MB), and with parallel workers priced as cheap as they are for a
 * scan of the whole portfolio: at PostgreSQL's default costs it joins 100,000 plans to their
 * items, invoices and accounts on one core (aging 0.78 s → 0.54 s, recovery 0.62 s → 0.55 s,
 * the forecast 0.67 s → 0.45 s: p50 of 7 runs each, before and after, on the 2-core bench machine).
 */
export async function reportQuery<T extends Record<string, unknown>>({ db }: DatabaseContext, query: SQL): Promise<T[]> {
  return db.transaction(
    async (tx) => {
      await tx.execute(sql`select set_config('work_mem', '64MB', true), set_config('parallel_setup_cost', '100', true), set_config('parallel_tuple_cost', '0.01', true)`);
      return [...(await tx.execute<T>(query))] as T[];
    },
    { accessMode: 'read only' },
  );
}

/**
 * Several queries of one report, each in its own read-only transaction on its own connection, so
 * PostgreSQL runs them on as many cores. None holds a connection while it waits for another (a
 * shared exported snapshot would, and callers at once could then hold every connection of the
 * pool and wait on each other), so the queries start together but each on its own snapshot: a
 * change committed in the milliseconds between their starts can show in one and not another.
 */
export async function readTogether(ctx: DatabaseContext, queries: SQL[]): Promise<Array<Array<Record<string, string | null>>>> {
  return Promise.all(queries.map((query) => reportQuery<Record<string, string | null>>(ctx, query)));
}

const numberOrNull = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
/** The closed plan statuses as an SQL list, for `status not in …`. */
export const closedStatuses = sql.raw(`(${closedPlanStatuses.map((s) => `'${s}'`).join(', ')})`);
/** The conditions joined with `and`, those left undefined (a filter not given) left out. */
export const and = (conditions: Array<SQL | undefined>) => {
  const present = conditions.filter((c): c is SQL => c !== undefined);
  return present.length ? sql.join(present, sql` and `) : sql`true`;
};

/**
 * Open amount by days past due, per currency, over the open plans' open items. Days past due
 * are counted on each account's calendar: "today" is computed once per distinct time zone.
 */
export async function agingReport(ctx: DatabaseContext, filter: ReportFilter = {}): Promise<AgingReport> {
  const { policy, currency } = await checkedFilter(ctx, 'aging', filter);
  const rows = await reportQuery<Record<string, string>>(ctx, sql`
    with zones as materialized (
      select z.zone, (now() at time zone z.zone)::date as today from (select distinct timezone as zone from accounts) z
    ), open_items as (
      select i.currency, p.id as plan_id, i.open_minor, z.today - i.due_on as days
      from collection_plans p
      join accounts a on a.id = p.account_id
      join zones z on z.zone = a.timezone
      join collection_plan_items ci on ci.plan_id = p.id and ci.status = 'open'
      join invoices i on i.id = ci.invoice_id and i.open_minor > 0
      where ${and([
        sql`p.status not in ${closedStatuses}`,
        policy === undefined ? undefined : sql`p.policy_name = ${policy}`,
        currency === undefined ? undefined : sql`i.currency = ${currency}`,
      ])}
    )
    select currency, count(distinct plan_id)::text as plans,
      coalesce(sum(open_minor) filter (where days <= 0), 0)::text as "notDueMinor",
      coalesce(sum(open_minor) filter (where days between 1 and 30), 0)::text as "days1to30Minor",
      coalesce(sum(open_minor) filter (where days between 31 and 60), 0)::text as "days31to60Minor",
      coalesce(sum(open_minor) filter (where days between 61 and 90), 0)::text as "days61to90Minor",
      coalesce(sum(open_minor) filter (where days > 90), 0)::text as "over90Minor",
      sum(open_minor)::text as "totalMinor"
    from open_items group by currency order by currency`);
  return {
    report: 'aging',
    asOf: new Date().toISOString(),
    rows: rows.map((r) => ({
      currency: r.currency!,
      plans: Number(r.plans),
      notDueMinor: Number(r.notDueMinor),
      days1to30Minor: Number(r.days1to30Minor),
      days31to60Minor: Number(r.days31to60Minor),
      days61to90Minor: Number(r.days61to90Minor),
      over90Minor: Number(r.over90Minor),
      totalMinor: Number(r.totalMinor),
    })),
  };
}

/** The first instant of `from` and the instant after `to` (UTC days), for a half-open range. */
const period = (column: SQL, { from, to }: ReportFilter) => [
  from === undefined ? undefined : sql`${column} >= ${from}::date::timestamp at time zone 'UTC'`,
  to === undefined ? undefined : sql`${column} < (${to}::date + 1)::timestamp at time zone 'UTC'`,
];

/** Promises made, kept and broken by the rep who recorded them; the kept rate over those settled. */
export async function promisesReport(ctx: DatabaseContext, filter: ReportFilter = {}): Promise<PromisesReport> {
  const f = await checkedFilter(ctx, 'promises', filter);
  const rows = await reportQuery<{ rep: string | null; made: number; kept: number; broken: number }>(ctx, sql`
    select pp.rep, count(*)::int as made,
      (count(*) filter (where pp.status = 'kept'))::int as kept,
      (count(*) filter (where pp.status = 'broken'))::int as broken
    from payment_promises pp
    join collection_plans p on p.id = pp.plan_id
    where ${and([
      f.policy === undefined ? undefined : sql`p.policy_name = ${f.policy}`,
      f.currency === undefined ? undefined : sql`p.currency = ${f.currency}`,
      ...period(sql`pp.created_at`, f),
    ])}
    group by pp.rep order by pp.rep nulls last`);
  return {
    report: 'promises',
    rows: rows.map((r) => ({ ...r, pending: r.made - r.kept - r.broken, keptRate: r.kept + r.broken === 0 ? null : r.kept / (r.kept + r.broken) })),
  };
}

/** Plans initiated in the filter's period, under its policy and currency: the ones the recovery and steps reports follow. */
const initiatedPlans = (f: ReportFilter) => sql`
  select p.id, p.policy_name as policy, p.policy_version as version, p.currency, p.status, p.initiated_at, p.closed_at
  from collection_plans p
  where ${and([
    sql`p.initiated_at is not null and p.policy_name is not null`,
    f.policy === undefined ? undefined : sql`p.policy_name = ${f.policy}`,
    f.currency === undefined ? undefined : sql`p.currency = ${f.currency}`,
    ...period(sql`p.initiated_at`, f),
  ])}`;

/**
 * What entered dunning and what came back, per policy version and currency, by initiation week
 * and for all weeks. A plan entered with what it owed at initiation: what was paid since plus what is
 * still open on its invoices (a payment before initiation counts in neither).
 */
export async function recoveryReport(ctx: DatabaseContext, filter: ReportFilter = {}): Promise<RecoveryReport> {
  const f = await checkedFilter(ctx, 'recovery', filter);
  // Every figure adds up by group, so each is summed in a query of its own (a hash join each, no
  // lookup per plan), the four run side by side, and are put together by group.
  const plans = sql`select p.*, (date_trunc('week', p.initiated_at at time zone 'UTC'))::date as week from (${initiatedPlans(f)}) p`;
  const groups = sql`grouping sets ((p.policy, p.version, p.currency, p.week), (p.policy, p.version, p.currency))`;
  const key = sql`p.policy, p.version::text as version, p.currency, p.week::text as week`;
  const [counts, recovered, stillOpen, days] = await readTogether(ctx, [
    sql`select ${key}, count(*)::text as plans, (count(*) filter (where p.status = 'resolved'))::text as resolved
      from (${plans}) p group by ${groups}
      order by p.policy, p.version nulls first, p.currency, p.week nulls last`,
    sql`select ${key}, sum(pm.amount_minor)::text as recovered
      from (${plans}) p join payments pm on pm.plan_id = p.id and pm.received_at >= p.initiated_at group by ${groups}`,
    sql`select ${key}, sum(i.open_minor)::text as still_open
      from (${plans}) p join collection_plan_items ci on ci.plan_id = p.id and ci.status <> 'removed' join invoices i on i.id = ci.invoice_id
      group by ${groups}`,
    sql`select ${key},
        round((percentile_cont(0.5) within group (order by extract(epoch from p.closed_at - p.initiated_at) / 86400))::numeric, 2)::text as median,
        round((percentile_cont(0.9) within group (order by extract(epoch from p.closed_at - p.initiated_at) / 86400))::numeric, 2)::text as p90
      from (${plans}) p where p.status = 'resolved' group by ${groups}`,
  ]);
  const fields = ['policy', 'version', 'currency', 'week'];
  const [recoveredBy, openBy, daysBy] = [recovered!, stillOpen!, days!].map((rows) => byGroup(rows, fields));
  return {
    report: 'recovery',
    rows: counts!.map((r) => {
      const k = groupKey(r, fields);
      const recoveredMinor = Number(recoveredBy!.get(k)?.recovered ?? 0);
      const enteringMinor = recoveredMinor + Number(openBy!.get(k)?.still_open ?? 0);
      return {
        policy: r.policy!,
        policyVersion: numberOrNull(r.version),
        currency: r.currency!,
        week: r.week ?? null,
        plans: Number(r.plans),
        enteringMinor,
        recoveredMinor,
        recoveryRate: enteringMinor === 0 ? null : recoveredMinor / enteringMinor,
        resolved: Number(r.resolved),
        medianDaysToResolve: numberOrNull(daysBy!.get(k)?.median),
        p90DaysToResolve: numberOrNull(daysBy!.get(k)?.p90),
      };
    }),
  };
}

/** A group's identity from its row: the named fields, null and text told apart. */
const groupKey = (row: Record<string, string | null>, fields: string[]) => JSON.stringify(fields.map((f) => row[f] ?? null));
/** Rows by their group's identity, for a figure read by another query of the same report. */
const byGroup = (rows: Array<Record<string, string | null>>, fields: string[]) => new Map(rows.map((r) => [groupKey(r, fields), r]));

/**
 * Which step worked, by last touch: each payment after initiation is credited to the plan's
 * last step completed at or before it was received (or to "before any step"). Per policy
 * version and currency, in the policy's order: how many plans reached each step, how many paid
 * after it and before the next, how many of those it resolved, and the amount.
 */
export async function stepsReport(ctx: DatabaseContext, filter: ReportFilter = {}): Promise<StepsReport> {
  const f = await checkedFilter(ctx, 'steps', filter);
  const plans = initiatedPlans(f);
  // How many reached each step, and what was paid after it, read side by side.
  const [reached, credited] = await readTogether(ctx, [
    sql`select policy, version::text as version, currency, null::text as step, null::int as ordinal, null::text as action, count(*)::text as reached
      from (${plans}) p group by policy, version, currency
      union all
      select p.policy, p.version::text, p.currency, s.key, s.ordinal, s.action, count(*)::text
      from (${plans}) p join orchestration_steps s on s.plan_id = p.id and s.status = 'completed'
      group by p.policy, p.version, p.currency, s.key, s.ordinal, s.action
      order by 1, 2 nulls first, 3, 5 nulls first`,
    // Each plan's payments by the step they followed (kept with each payment, see migration 0008),
    // and whether they hold the plan's last payment while it is resolved: the one that resolved
    // it. Grouped per plan first, by hashing: counting distinct plans would sort every payment.
    sql`select policy, version::text as version, currency, step, count(*)::text as plans_paid,
        (count(*) filter (where closing))::text as paid_in_full, sum(amount)::text as amount
      from (
        select p.id, p.policy, p.version, p.currency, pm.after_step as step, sum(pm.amount_minor) as amount,
          bool_or(p.status = 'resolved' and pm.received_at = last.at) as closing
        from (${plans}) p
        join payments pm on pm.plan_id = p.id and pm.received_at >= p.initiated_at
        join (select plan_id, max(received_at) as at from payments group by plan_id) last on last.plan_id = p.id
        group by p.id, p.policy, p.version, p.currency, pm.after_step
      ) paid
      group by policy, version, currency, step`,
  ]);
  const fields = ['policy', 'version', 'currency', 'step'];
  const creditedBy = byGroup(credited!, fields);
  return {
    report: 'steps',
    rows: reached!.map((r) => {
      const c = creditedBy.get(groupKey(r, fields));
      const reachedPlans = Number(r.reached);
      const plansPaid = Number(c?.plans_paid ?? 0);
      return {
        policy: r.policy!,
        policyVersion: numberOrNull(r.version),
        currency: r.currency!,
        step: r.step ?? null,
        ordinal: numberOrNull(r.ordinal),
        action: (r.action ?? null) as StepsRow['action'],
        reached: reachedPlans,
        plansPaid,
        plansPaidInFull: Number(c?.paid_in_full ?? 0),
        amountMinor: Number(c?.amount ?? 0),
        paidRate: reachedPlans === 0 ? null : plansPaid / reachedPlans,
      };
    }),
  };
}

/** The report of that name, its filter checked; the CLI and the HTTP API both come here. */
export async function runReport(ctx: DatabaseContext, { name, ...filter }: ReportFilter & { name: string }): Promise<Report> {
  if (!isReportName(name)) throw new DunningError(`Unknown report "${name}"; the reports are ${reportNames.join(', ')}.`, 'unknown_report');
  const defined = Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as ReportFilter;
  switch (name) {
    case 'aging':
      return agingReport(ctx, defined);
    case 'promises':
      return promisesReport(ctx, defined);
    case 'recovery':
      return recoveryReport(ctx, defined);
    case 'steps':
      return stepsReport(ctx, defined);
  }
}
