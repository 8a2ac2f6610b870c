// Pruning what only webhooks need: plan events past their keeping, and delivery attempts. An
// event still owed to an enabled endpoint stays whatever its age (it is being retried); one
// waiting for a disabled endpoint goes with the rest, so a forgotten endpoint cannot keep the
// table growing.
import { Context, log } from '@temporalio/activity';
import { sql } from 'drizzle-orm';
import type { ActivityDeps } from './deps';

/** Rows per delete: short transactions, and a heartbeat between them. */
const BATCH = 5_000;

export function createRetentionActivities({ db, clock }: Pick<ActivityDeps, 'db' | 'clock'>) {
  /** Runs one batched delete until it deletes nothing more; how many rows it took in all. */
  async function drain(batch: () => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await batch();
      total += deleted;
      Context.current().heartbeat(total);
      if (deleted < BATCH) return total;
    }
  }

  return {
    async pruneWebhookHistory({ keepDays }: { keepDays: number }): Promise<{ events: number; attempts: number }> {
      const cutoff = new Date(clock.now().getTime() - keepDays * 86_400_000).toISOString();
      // Deliveries go with their event (on delete cascade).
      const events = await drain(async () => {
        const rows = await db.execute(sql`
          delete from plan_events where position in (
            select e.position from plan_events e
            where e.occurred_at < ${cutoff}::timestamptz
              and not exists (
                select 1 from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id
                where d.event_position = e.position and d.status = 'pending' and w.status = 'enabled')
            order by e.occurred_at limit ${BATCH})`);
        return rows.count;
      });
      const attempts = await drain(async () => {
        const rows = await db.execute(sql`
          delete from webhook_attempts where id in (
            select a.id from webhook_endpoints w
            cross join lateral (select id from webhook_attempts where endpoint_id = w.id and at < ${cutoff}::timestamptz limit ${BATCH}) a
            limit ${BATCH})`);
        return rows.count;
      });
      log.info('Webhook history pruned', { keepDays, cutoff, events, attempts });
      return { events, attempts };
    },
  };
}
