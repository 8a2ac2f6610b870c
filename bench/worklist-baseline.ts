// The worklist as it was before migration 0005 (commit e7a7d60's client/worklist.ts): every
// candidate's amount owed and days past due aggregated from tasks, items and invoices before
// the page is cut. Kept for the console benchmark as the cost to compare against, and as an
// independent answer the stored priority inputs must agree with.
import { sql, type SQL } from 'drizzle-orm';
import { decodeCursor, likePattern, worklistPage, type PageRow, type Worklist, type WorklistFilter } from '../client/worklist';
import { planStatuses, taskKinds, type TaskKind } from '../workflows/domain/statuses';
import type { DatabaseContext } from '../client/context';
import { DunningError } from '../client/errors';

/**
 * One row per plan with an open task: its open task kinds, whether a promise broke, the amount
 * owed on open items and the days since the earliest of them fell due (0 before that), counted
 * on the account's own calendar, as the journey counts overdue days.
 */
function planFilters(filter: WorklistFilter): SQL[] {
  return [
    filter.status ? sql`p.status = ${filter.status}` : undefined,
    filter.currency ? sql`p.currency = ${filter.currency.toUpperCase()}` : undefined,
    filter.search ? sql`(a.name ilike ${likePattern(filter.search)} or a.id ilike ${likePattern(filter.search)})` : undefined,
  ].filter((w) => w !== undefined);
}

function candidates(filter: WorklistFilter): SQL {
  const where = planFilters(filter);
  return sql`
    select p.id as plan_id, p.account_id, a.name as account_name, p.status, p.currency, a.locale, t.kinds,
      'promise_broken' = any(t.kinds) as broken, o.owed, o.days,
      (o.owed * o.days)::numeric as score
    from (select plan_id, array_agg(distinct kind order by kind) as kinds from tasks where status = 'open' group by plan_id) t
    join collection_plans p on p.id = t.plan_id
    join accounts a on a.id = p.account_id
    cross join lateral (
      select coalesce(sum(i.open_minor), 0)::bigint as owed,
        greatest(0, coalesce((now() at time zone a.timezone)::date - min(i.due_on) filter (where i.open_minor > 0), 0))::int as days
      from collection_plan_items ci join invoices i on i.id = ci.invoice_id
      where ci.plan_id = p.id and ci.status = 'open'
    ) o
    ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``}`;
}

export async function worklistBaseline({ db }: DatabaseContext, filter: WorklistFilter = {}): Promise<Worklist> {
  const limit = filter.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new DunningError('The limit must be a whole number from 1 to 200.', 'invalid');
  if (filter.taskKind && !taskKinds.includes(filter.taskKind)) throw new DunningError(`There is no task kind "${filter.taskKind}".`, 'invalid');
  if (filter.status && !planStatuses.includes(filter.status)) throw new DunningError(`There is no plan status "${filter.status}".`, 'invalid');
  const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  const base = candidates(filter);
  const where = [
    filter.taskKind ? sql`${filter.taskKind} = any(c.kinds)` : undefined,
    // Keyset on (broken desc, score desc, plan id asc): the rows after the previous page's last.
    after
      ? sql`(c.broken::int < ${after.broken} or (c.broken::int = ${after.broken} and (c.score < ${after.score}::numeric or (c.score = ${after.score}::numeric and c.plan_id > ${after.planId}))))`
      : undefined,
  ].filter((w) => w !== undefined);
  const rows = await db.execute<PageRow>(sql`
    with c as (${base})
    select c.plan_id, c.account_id, c.account_name, c.status, c.currency, c.locale, c.kinds, c.broken,
      c.owed::text as owed, c.days, c.score::text as score
    from c ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``}
    order by c.broken desc, c.score desc, c.plan_id asc
    limit ${limit + 1}`);
  // The counts need the filters but not the priority: they skip the amounts and dates.
  const planWhere = planFilters(filter);
  const counts = await db.execute<{ kind: TaskKind; plans: number }>(sql`
    select t.kind, count(distinct t.plan_id)::int as plans from tasks t
    ${planWhere.length ? sql`join collection_plans p on p.id = t.plan_id join accounts a on a.id = p.account_id` : sql``}
    where t.status = 'open' ${planWhere.length ? sql`and ${sql.join(planWhere, sql` and `)}` : sql``}
    group by t.kind`);
  const queues = Object.fromEntries(taskKinds.map((k) => [k, 0])) as Record<TaskKind, number>;
  for (const { kind, plans } of counts) queues[kind] = plans;
  return worklistPage(rows, queues, limit);
}
