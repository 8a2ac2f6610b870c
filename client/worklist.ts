// The rep console's worklist: plans that need a person (at least one open task), most urgent
// first. The priority is computed in SQL so paging and filters agree with the order; the page
// explains it with `priorityRule`.
import { sql, type SQL } from 'drizzle-orm';
import { planStatuses, taskKinds, type PlanStatus, type TaskKind } from '../workflows/domain/statuses';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';

export const priorityRule =
  'Plans with a broken promise come first; the rest are ordered by amount owed × days past due (days since the earliest open invoice fell due).';

export interface WorklistFilter {
  taskKind?: TaskKind;
  status?: PlanStatus;
  currency?: string;
  /** Part of the account's name or id, any case. */
  search?: string;
  /** 1–200, default 50. */
  limit?: number;
  cursor?: string;
}

export interface WorklistRow {
  planId: string;
  accountId: string;
  accountName: string;
  status: PlanStatus;
  currency: string;
  locale: string;
  taskKinds: TaskKind[];
  brokenPromise: boolean;
  owedMinor: number;
  daysPastDue: number;
}

export interface Worklist {
  rows: WorklistRow[];
  /** Plans per open task kind, under every filter except the kind itself. */
  queues: Record<TaskKind, number>;
  nextCursor: string | null;
}

/** `%` and `_` in what a rep types match themselves, not any text. */
export const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function encodeCursor(broken: boolean, score: string, planId: string): string {
  return Buffer.from(JSON.stringify([broken ? 1 : 0, score, planId])).toString('base64url');
}

export function decodeCursor(cursor: string): { broken: number; score: string; planId: string } {
  try {
    const [broken, score, planId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if ((broken === 0 || broken === 1) && typeof score === 'string' && /^\d{1,30}$/.test(score) && typeof planId === 'string' && !planId.includes('\u0000')) {
      return { broken, score, planId };
    }
  } catch {
    // falls through to the refusal
  }
  throw new DunningError('The cursor is not one this page gave; start again without it.', 'invalid');
}

/**
 * The worklist's candidates are the rows of worklist_entries: one per plan with an open task,
 * holding its open task kinds, whether a promise broke, the amount owed on open items and the
 * earliest due date among them, kept by triggers in every writer's transaction (migration
 * 0005). Only the days past due depend on today, so they are counted here, on the account's own
 * calendar, as the journey counts overdue days.
 */
function entryFilters(filter: WorklistFilter, opts: { taskKind: boolean }): SQL[] {
  return [
    opts.taskKind && filter.taskKind ? sql`${filter.taskKind} = any(e.task_kinds)` : undefined,
    filter.status ? sql`e.status = ${filter.status}` : undefined,
    filter.currency ? sql`e.currency = ${filter.currency.toUpperCase()}` : undefined,
    filter.search ? sql`(e.account_name ilike ${likePattern(filter.search)} or e.account_id ilike ${likePattern(filter.search)})` : undefined,
  ].filter((w) => w !== undefined);
}

// postgres.js returns a text[] of an unknown type as its literal "{a,b}".
const kindsOf = (kinds: TaskKind[] | string) => (Array.isArray(kinds) ? kinds : (kinds.replace(/^\{|\}$/g, '').split(',') as TaskKind[]));

const whereAll = (conditions: SQL[]) => (conditions.length ? sql`where ${sql.join(conditions, sql` and `)}` : sql``);

/** A worklist row as read, with its priority (`score`); the live query and the benchmark's old one both give these. */
export type PageRow = {
  plan_id: string; account_id: string; account_name: string; status: PlanStatus; currency: string; locale: string;
  kinds: TaskKind[] | string; broken: boolean; owed: string; days: number; score: string;
};

/** What the first read learnt besides its page; the same on every row (see firstRead). */
type ReadBounds = {
  n_owed: number; n_due: number; owed_last_broken: boolean | null; owed_last: string | null; due_last_broken: boolean | null; days_bound: number | null;
  /** The latest "today" of any zone, and per broken-or-not the largest amount owed and the oldest due date. */
  latest_today: string; owed_max_broken: string | null; owed_max: string | null; due_min_broken: string | null; due_min: string | null;
};

type Keyset = ReturnType<typeof decodeCursor> | undefined;

/**
 * The candidates (the filters and the cursor applied) with each one's exact days and priority.
 * The days need "today" per zone: the zones' distinct values are read by index, one probe each,
 * and each zone's date computed once, rather than once per row.
 */
function scoredCandidates(filter: WorklistFilter, after: Keyset): SQL {
  // Keyset on (broken desc, score desc, plan id asc): the rows after the previous page's last.
  const keyset = after
    ? sql`where s.broken::int < ${after.broken} or (s.broken::int = ${after.broken} and (s.score < ${after.score}::numeric or (s.score = ${after.score}::numeric and s.plan_id > ${after.planId})))`
    : sql``;
  return sql`select * from (
      select e.plan_id, e.account_id, e.status, e.currency, e.task_kinds as kinds, e.broken_promise as broken, e.owed_minor as owed,
        e.earliest_due_on as due, d.days, (e.owed_minor * d.days)::numeric as score
      from worklist_entries e
      cross join lateral (select greatest(0, coalesce((select t.today from today t where t.zone = e.time_zone) - e.earliest_due_on, 0)) as days) d
      ${whereAll(entryFilters(filter, { taskKind: true }))}
    ) s ${keyset}`;
}

const zonesToday = sql`
  zones(zone) as (
    select min(time_zone) from worklist_entries
    union all
    select (select min(e.time_zone) from worklist_entries e where e.time_zone > zones.zone) from zones where zones.zone is not null
  ), today as materialized (
    select zone, (now() at time zone zone)::date as today from zones where zone is not null
  )`;

const pageColumns = sql`p.plan_id, p.account_id, a.name as account_name, p.status, p.currency, a.locale, p.kinds, p.broken,
  p.owed::text as owed, p.days, p.score::text as score`;

/**
 * First read: the candidates in two index orders, `depth` rows each, by amount owed (largest
 * first) and by earliest due date (oldest first), broken promises first in both, and the page
 * among the rows read. A candidate neither list reached owes no more than the owed list's last
 * row and is no older than the due list's last row, so its priority is at most their product
 * (Fagin's threshold algorithm); `pageIsExact` checks the page's last row against that bound.
 */
function firstRead(db: DatabaseContext['db'], filter: WorklistFilter, after: Keyset, limit: number, depth: number) {
  const candidates = scoredCandidates(filter, after);
  return db.execute<PageRow & ReadBounds>(sql`
    with recursive ${zonesToday}, by_owed as (
      ${candidates} order by s.broken desc nulls last, s.owed desc nulls last limit ${depth}
    ), by_due as (
      ${candidates} order by s.broken desc nulls last, s.due asc nulls last limit ${depth}
    ), page as (
      select * from (select * from by_owed union select * from by_due) seen order by broken desc, score desc, plan_id asc limit ${limit + 1}
    ), owed_last as (
      select broken, owed from by_owed order by broken asc, owed asc limit 1
    ), due_last as (
      select broken, due from by_due order by broken asc, due desc nulls first limit 1
    ), bound as (
      select (select count(*) from by_owed)::int as n_owed, (select count(*) from by_due)::int as n_due,
        (select broken from owed_last) as owed_last_broken, (select owed::text from owed_last) as owed_last,
        (select broken from due_last) as due_last_broken,
        (select greatest(0, coalesce((select max(today) from today) - due, 0)) from due_last) as days_bound,
        (select max(today)::text from today) as latest_today,
        -- The first entry of each index per broken-or-not (ordered as the index is, so one probe each).
        (select owed_minor from worklist_entries where broken_promise = true order by broken_promise desc nulls last, owed_minor desc nulls last limit 1)::text as owed_max_broken,
        (select owed_minor from worklist_entries where broken_promise = false order by broken_promise desc nulls last, owed_minor desc nulls last limit 1)::text as owed_max,
        (select earliest_due_on from worklist_entries where broken_promise = true order by broken_promise desc nulls last, earliest_due_on asc nulls last limit 1)::text as due_min_broken,
        (select earliest_due_on from worklist_entries where broken_promise = false order by broken_promise desc nulls last, earliest_due_on asc nulls last limit 1)::text as due_min
    )
    select ${pageColumns}, b.*
    from page p join accounts a on a.id = p.account_id cross join bound b
    order by p.broken desc, p.score desc, p.plan_id asc`);
}

/** Whether the first read's page is exact: no candidate it did not read could come before its last row. */
function pageIsExact(rows: Array<PageRow & ReadBounds>, depth: number, limit: number): boolean {
  const b = rows[0];
  if (!b || b.n_owed < depth || b.n_due < depth) return true; // a list ran out: every candidate was read
  const nth = rows[limit];
  if (!nth) return false;
  const score = BigInt(nth.score);
  if (b.owed_last_broken && b.due_last_broken) {
    // An unread candidate may have a broken promise too, owing no more and no older.
    return nth.broken && score > BigInt(b.owed_last ?? 0) * BigInt(b.days_bound ?? 0);
  }
  if (nth.broken) return true; // every unread candidate is without a broken promise
  const owedBound = b.owed_last_broken ? null : BigInt(b.owed_last ?? 0);
  const daysBound = b.due_last_broken ? null : BigInt(b.days_bound ?? 0);
  if (owedBound === 0n || daysBound === 0n) return score > 0n;
  return owedBound !== null && daysBound !== null && score > owedBound * daysBound;
}

/**
 * Second read, when the first could not prove its page: its last row's priority P is reached by
 * at least limit + 1 candidates, so the page holds only candidates at P or above, and one of
 * those owes at least P / (the most days any candidate has) and has at least P / (the most any
 * candidate owes) days. Both are ranges of the two indexes (a bitmap of each, intersected), so
 * the rows read are those high in both orders, not every candidate.
 */
function boundedRead(db: DatabaseContext['db'], filter: WorklistFilter, after: Keyset, limit: number, first: Array<PageRow & ReadBounds>) {
  const nth = first[limit]!;
  const b = first[0]!;
  const [owedMax, dueMin] = nth.broken ? [b.owed_max_broken, b.due_min_broken] : [b.owed_max, b.due_min];
  // P > 0 means the last row owes something and is overdue, so owedMax > 0 and dueMin < latest today.
  const above =
    nth.score === '0' || owedMax === null || dueMin === null
      ? sql`s.broken >= ${nth.broken}`
      : sql`(s.broken > ${nth.broken} or (s.broken = ${nth.broken}
          and s.owed >= ceil(${nth.score}::numeric / (${b.latest_today}::date - ${dueMin}::date))
          and s.due <= ${b.latest_today}::date - ceil(${nth.score}::numeric / ${owedMax}::numeric)::int))`;
  return db.execute<PageRow>(sql`
    with recursive ${zonesToday}, page as (
      select * from (${scoredCandidates(filter, after)}) s where ${above}
      order by s.broken desc, s.score desc, s.plan_id asc limit ${limit + 1}
    )
    select ${pageColumns}
    from page p join accounts a on a.id = p.account_id
    order by p.broken desc, p.score desc, p.plan_id asc`);
}

/** Plans per open task kind: each kind's partial index counted, or, under a search, the few matching rows grouped by their kinds. */
async function queueCounts(db: DatabaseContext['db'], filter: WorklistFilter): Promise<Record<TaskKind, number>> {
  const where = entryFilters(filter, { taskKind: false });
  const queues = Object.fromEntries(taskKinds.map((k) => [k, 0])) as Record<TaskKind, number>;
  if (filter.search) {
    const counts = await db.execute<{ kinds: TaskKind[] | string; plans: number }>(sql`
      select e.task_kinds as kinds, count(*)::int as plans from worklist_entries e ${whereAll(where)} group by e.task_kinds`);
    for (const { kinds, plans } of counts) for (const kind of kindsOf(kinds)) queues[kind] += plans;
    return queues;
  }
  // The kind is written as a literal so the planner matches it to worklist_entries_queue_<kind>'s predicate.
  const [counts] = await db.execute<Record<TaskKind, number>>(sql`select ${sql.join(
    taskKinds.map((k) => sql`(select count(*)::int from worklist_entries e where ${sql.raw(`'${k}'`)} = any(e.task_kinds)${sql.join(where.map((w) => sql` and ${w}`))}) as ${sql.raw(k)}`),
    sql`, `,
  )}`);
  return { ...queues, ...counts };
}

export async function worklist({ db }: DatabaseContext, filter: WorklistFilter = {}): Promise<Worklist> {
  const limit = filter.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new DunningError('The limit must be a whole number from 1 to 200.', 'invalid');
  if (filter.taskKind && !taskKinds.includes(filter.taskKind)) throw new DunningError(`There is no task kind "${filter.taskKind}".`, 'invalid');
  if (filter.status && !planStatuses.includes(filter.status)) throw new DunningError(`There is no plan status "${filter.status}".`, 'invalid');
  const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  const depth = 4 * (limit + 1);
  // The page and the counts are independent reads: on two connections of the pool at once.
  const [rows, queues] = await Promise.all([
    firstRead(db, filter, after, limit, depth).then((first): Promise<PageRow[]> | PageRow[] =>
      pageIsExact(first, depth, limit) ? first : boundedRead(db, filter, after, limit, first),
    ),
    queueCounts(db, filter),
  ]);
  return worklistPage(rows, queues, limit);
}

/** The page a read of `limit + 1` rows gives: the first `limit` as rows, and the cursor after them if more follow. */
export function worklistPage(rows: PageRow[], queues: Record<TaskKind, number>, limit: number): Worklist {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    rows: page.map((r) => ({
      planId: r.plan_id,
      accountId: r.account_id,
      accountName: r.account_name,
      status: r.status,
      currency: r.currency,
      locale: r.locale,
      taskKinds: kindsOf(r.kinds),
      brokenPromise: r.broken,
      owedMinor: Number(r.owed),
      daysPastDue: r.days,
    })),
    queues,
    nextCursor: rows.length > limit && last ? encodeCursor(last.broken, last.score, last.plan_id) : null,
  };
}
