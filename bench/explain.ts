// What PostgreSQL does for a read of the service layer: the read runs with each query it sends
// through `execute` replaced by `EXPLAIN (ANALYZE, BUFFERS)` of that query, so the plan shown is
// the one of the SQL the API runs, not of a copy of it that could drift.
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/connection';

/**
 * The plans of the queries `read` sends, in order. Each query is answered with no rows, so
 * `read` must be one that only reads through `execute` (listPlans is); with `answer`, each is
 * also run and answered with its rows, for a read whose next query depends on the last's rows
 * (the worklist's second read).
 */
export async function explainRead(db: Database, read: (ctx: { db: Database }) => Promise<unknown>, opts: { answer?: boolean } = {}): Promise<string[][]> {
  const plans: string[][] = [];
  const explaining = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'execute') return Reflect.get(target, prop, receiver) as unknown;
      return async (query: SQL) => {
        const rows = await target.execute<{ 'QUERY PLAN': string }>(sql`explain (analyze, buffers) ${query}`);
        plans.push(rows.map((r) => r['QUERY PLAN']));
        return opts.answer ? target.execute(query) : [];
      };
    },
  });
  await read({ db: explaining });
  return plans;
}

/** The lines a reader needs: the top node (rows, time), each scan of `tables`, and the execution time. */
export function planOutline(plan: string[], tables: string[]): string[] {
  const scans = plan.filter((line) => /Scan/.test(line) && tables.some((t) => line.includes(` on ${t} `)));
  const time = plan.filter((line) => line.startsWith('Execution Time'));
  return [plan[0] ?? '', ...scans, ...time].map((line) => line.trim().replace(/\s+\(cost=[^)]*\)/, ''));
}
