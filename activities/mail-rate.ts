// The mail provider's request rate, held across every worker process: a request first takes a
// slot from one PostgreSQL row per provider account, timed by the database's clock, so two
// processes (or two hosts with clocks apart) never send closer together than the rate allows.
import { sql } from 'drizzle-orm';
import type { Database, Transaction } from '../db/connection';

/**
 * Slots are 10 % wider than 1/rate. A request leaves a little after its slot is stamped (the
 * commit, the event loop, the network); the margin keeps `rate` requests' worth of that jitter
 * (100 ms, at any rate) from putting rate + 1 requests inside one second at the provider.
 */
const slotMargin = 1.1;

/** The time between two requests to a provider allowed `ratePerSecond` requests per second. */
export function slotSpacingMs(ratePerSecond: number): number {
  return (1000 / ratePerSecond) * slotMargin;
}

export interface SlotRequest<R> {
  /** The provider account (its row of mail_rate_slots). */
  provider: string;
  ratePerSecond: number;
  /**
   * Prepares the request inside the slot's transaction, shortly before the slot; undefined →
   * nothing to send, and the slot stays free for the next taker.
   */
  prepare: (tx: Transaction) => Promise<R | undefined>;
}

/**
 * Waits for the provider's next slot and takes it, just before the request leaves: the wait is
 * spent outside any transaction (a pooled connection is not held for it); near the slot, the
 * row is locked, `prepare` runs (messages that arrived during the wait ride in the request), the
 * database sleeps to `next_at` by its own clock, and `next_at` moves to one spacing after that
 * moment. Should another process take the slot first, it waits for the next one. The request
 * must be made as soon as this resolves.
 */
export async function takeSendSlot<R>(db: Database, opts: SlotRequest<R>): Promise<R | undefined> {
  const spacingMs = slotSpacingMs(opts.ratePerSecond);
  // Time to record a batch before its slot; whatever it takes beyond that only delays the slot.
  const leadMs = Math.min(spacingMs / 4, 100);
  for (;;) {
    const waitMs = await untilSlot(db, opts.provider);
    if (waitMs > leadMs) await new Promise((r) => setTimeout(r, waitMs - leadMs));
    const taken = await db.transaction(async (tx) => {
      // A no-op update on conflict: it creates the row the first time and locks it every time.
      const [row] = await tx.execute<{ nextAt: string; waitMs: number }>(sql`
        insert into mail_rate_slots as s (provider, next_at) values (${opts.provider}, clock_timestamp())
        on conflict (provider) do update set next_at = s.next_at
        returning next_at::text as "nextAt", extract(epoch from (next_at - clock_timestamp())) * 1000 as "waitMs"`);
      // Another process took the slot while this one slept (timers wake a little early, hence the slack).
      if (Number(row!.waitMs) > leadMs + 50) return { again: true } as const;
      const prepared = await opts.prepare(tx);
      if (prepared === undefined) return { prepared };
      await tx.execute(sql`select pg_sleep(greatest(0, extract(epoch from (${row!.nextAt}::timestamptz - clock_timestamp()))))`);
      await tx.execute(sql`update mail_rate_slots set next_at = clock_timestamp() + ${spacingMs}::float8 * interval '1 millisecond' where provider = ${opts.provider}`);
      return { prepared };
    });
    if (!('again' in taken)) return taken.prepared;
  }
}

/** Milliseconds until the provider's next slot by the database's clock (0 or less: free now). */
async function untilSlot(db: Database, provider: string): Promise<number> {
  const [row] = await db.execute<{ waitMs: number }>(
    sql`select extract(epoch from (next_at - clock_timestamp())) * 1000 as "waitMs" from mail_rate_slots where provider = ${provider}`,
  );
  return row ? Number(row.waitMs) : 0;
}
