// The mail provider's request rate, held across every worker process: a request first takes a
// slot from one PostgreSQL row per provider account, timed by the database's clock, so two
// processes (or two hosts with clocks apart) never send closer together than the rate allows.
import { sql } from 'drizzle-orm';
import type { Database } from '../db/connection';

/**
 * Slots are 10 % wider than 1/rate: `rate` requests' worth of jitter between leaving here and
 * arriving there (the network, the provider's own clock) is 100 ms at any rate, and still never
 * puts rate + 1 requests inside one of the provider's seconds.
 */
const slotMargin = 1.1;

/** The time between two requests to a provider allowed `ratePerSecond` requests per second. */
export function slotSpacingMs(ratePerSecond: number): number {
  return (1000 / ratePerSecond) * slotMargin;
}

/** How close to its slot a taker locks the row; the rest of the wait is spent without a connection. */
const nearMs = 25;
/** A taker looks at the row again at least this often while it waits (a slot may come free sooner). */
const peekMs = 1000;

export interface SlotRequest<R> {
  /** The provider account (its row of mail_rate_slots). */
  provider: string;
  ratePerSecond: number;
  /**
   * Prepares the request, once, shortly before its slot: what arrived during the wait goes in
   * it. Undefined → nothing to send.
   */
  prepare: () => Promise<R | undefined>;
  /** Makes the request; resolves once it has left (or failed to leave). */
  send: (request: R) => Promise<void>;
}

/**
 * Makes a request in the provider's next slot. The row is locked near the slot, the database
 * sleeps to `next_at` by its own clock, the request goes, and only once it has left does
 * `next_at` move to one spacing later: however late this process is to send (a busy event
 * loop, a slow connection), the next request anywhere leaves a full spacing after this one.
 * Should another process take the slot first, the request waits for the next one. Resolves
 * with what was sent, or undefined when `prepare` found nothing to send.
 */
export async function sendInSlot<R>(db: Database, opts: SlotRequest<R>): Promise<R | undefined> {
  const spacingMs = slotSpacingMs(opts.ratePerSecond);
  // Preparing (recording a batch) takes a moment: begun this long before the slot, it rarely delays it.
  const prepareMs = Math.max(nearMs, Math.min(150, spacingMs / 4));
  let request: R | undefined;
  for (;;) {
    const waitMs = await untilSlot(db, opts.provider);
    const aheadMs = request === undefined ? prepareMs : nearMs;
    if (waitMs > aheadMs) {
      await new Promise((r) => setTimeout(r, Math.min(waitMs - aheadMs, peekMs)));
      continue;
    }
    if (request === undefined) {
      request = await opts.prepare();
      if (request === undefined) return undefined;
    }
    const prepared = request;
    const sent = await db.transaction(async (tx) => {
      // A no-op update on conflict creates the row the first time and locks it every time; the
      // same statement then sleeps to the slot by the database's clock, unless another process
      // took the slot meanwhile (timers wake a little early, hence the slack).
      const [row] = await tx.execute<{ taken: boolean }>(sql`
        with slot as (
          insert into mail_rate_slots as s (provider, next_at) values (${opts.provider}, clock_timestamp())
          on conflict (provider) do update set next_at = s.next_at
          returning next_at, extract(epoch from (next_at - clock_timestamp())) * 1000 as wait_ms
        )
        select taken, case when taken then pg_sleep(greatest(0, extract(epoch from (next_at - clock_timestamp())))) end as slept
        from (select next_at, wait_ms <= ${nearMs + 50} as taken from slot) s`);
      if (!row!.taken) return false;
      await opts.send(prepared);
      await tx.execute(sql`update mail_rate_slots set next_at = clock_timestamp() + ${spacingMs}::float8 * interval '1 millisecond' where provider = ${opts.provider}`);
      return true;
    });
    if (sent) return prepared;
  }
}

/** Milliseconds until the provider's next slot by the database's clock (0 or less: free now). */
async function untilSlot(db: Database, provider: string): Promise<number> {
  const [row] = await db.execute<{ waitMs: number }>(
    sql`select extract(epoch from (next_at - clock_timestamp())) * 1000 as "waitMs" from mail_rate_slots where provider = ${provider}`,
  );
  return row ? Number(row.waitMs) : 0;
}
