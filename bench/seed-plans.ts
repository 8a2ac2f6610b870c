// A portfolio for the read benchmarks, written straight into the tables: what about a year of
// dunning leaves behind (plans in every status, their items, steps, tasks, promises and
// timelines), in a few set-based statements, so 100,000 plans take seconds instead of an
// import and 100,000 journeys. Only bench/run.ts uses it.
import type postgres from 'postgres';

/** Seeded plans are `plan-SEED-<i>`, i from 1 (the newest) to n (a year old). */
export const seededPlanId = (i: number) => `plan-SEED-${i}`;

/**
 * The mix, by i % 100: 5 % not started, 60 % in progress (0–3 steps done), 10 % escalated with
 * an open task, 5 % promised, 2 % on hold, 15 % resolved, 3 % cancelled. Open tasks are mostly
 * manual escalations; 1 % of plans have a broken promise and 0.1 % an opted-out contact, so the
 * task-kind filter is tried on a common kind and on rare ones.
 */
export async function seedPlans(sql: postgres.Sql, n: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`create temp table seed on commit drop as
      select i, 'SEED-' || i as account_id, 'plan-SEED-' || i as plan_id, s.status,
        -- steps done: escalated and promised plans (and some resolved ones) went through all four
        case when s.status in ('escalated', 'promised') or (s.status = 'resolved' and i % 100 < 87) then 4
          when s.status = 'not_started' then 0 else i % 4 end as done,
        now() - interval '365 days' * i / ${n}::int as created_at
      from generate_series(1, ${n}::int) i
      cross join lateral (select case
        when i % 100 < 5 then 'not_started' when i % 100 < 65 then 'in_progress' when i % 100 < 75 then 'escalated'
        when i % 100 < 80 then 'promised' when i % 100 < 82 then 'on_hold' when i % 100 < 97 then 'resolved'
        else 'cancelled' end as status) s`;
    await tx`insert into accounts (id, name, timezone, currency, locale, created_at, updated_at)
      select account_id, 'Seeded account ' || i, 'Europe/Berlin', 'EUR', 'de-DE', created_at, created_at from seed`;
    await tx`insert into contacts (account_id, name, email) select account_id, 'Contact ' || i, 'c' || i || '@seed.example' from seed`;
    await tx`insert into invoices (account_id, number, amount_minor, open_minor, currency, issued_on, due_on, status, created_at)
      select account_id, account_id || '-' || k, amount, case when status = 'resolved' then 0 else amount end, 'EUR',
        (created_at - interval '30 days')::date, (created_at + interval '10 days')::date,
        case when status = 'resolved' then 'paid' else 'open' end, created_at
      from seed cross join lateral (values (1, 10000 + (i % 90) * 1000), (2, 2500)) v(k, amount)`;
    await tx`insert into collection_plans (id, account_id, policy_name, status, currency, workflow_id, initiated_at, closed_at, created_at, updated_at)
      select plan_id, account_id, case when status <> 'not_started' then 'standard' end, status, 'EUR',
        case when status <> 'not_started' then 'dunning-' || plan_id end,
        case when status <> 'not_started' then created_at + interval '1 minute' end,
        case when status in ('resolved', 'cancelled') then least(now(), created_at + interval '40 days') end, created_at, created_at
      from seed`;
    await tx`insert into collection_plan_items (plan_id, invoice_id, status)
      select s.plan_id, inv.id, case when s.status = 'resolved' then 'paid' else 'open' end
      from seed s join invoices inv on inv.account_id = s.account_id`;
    await tx`insert into orchestration_steps (plan_id, key, ordinal, action, status, scheduled_for, completed_at, reason, updated_at)
      select s.plan_id, st.key, st.ordinal, st.action,
        case when st.ordinal < s.done then 'completed' when s.status in ('resolved', 'cancelled') then 'cancelled'
          when st.ordinal = s.done then 'waiting' else 'pending' end,
        s.created_at + st.after,
        case when st.ordinal < s.done then s.created_at + st.after + interval '1 minute'
          when s.status in ('resolved', 'cancelled') then s.created_at + interval '40 days' end,
        case when st.ordinal >= s.done and s.status in ('resolved', 'cancelled') then 'plan ' || s.status end,
        s.created_at
      from seed s
      cross join (values ('upcoming_notice', 0, 'email', interval '0 days'), ('first_reminder', 1, 'email', interval '13 days'),
        ('second_reminder', 2, 'email', interval '20 days'), ('manual_escalation', 3, 'task', interval '30 days')) st(key, ordinal, action, after)
      where s.status <> 'not_started'`;
    await tx`insert into tasks (id, plan_id, kind, status, reason, outcome, created_at, closed_at)
      select 'task-' || plan_id || '-escalation', plan_id,
        case when i % 1000 = 70 then 'opted_out' when i % 100 = 65 then 'promise_broken' else 'manual_escalation' end,
        case when status = 'escalated' then 'open' else 'done' end, 'Seeded: still owed after the second reminder',
        case when status = 'escalated' then null else 'promise' end,
        created_at + interval '30 days', case when status <> 'escalated' then created_at + interval '31 days' end
      from seed where done = 4`;
    await tx`insert into payment_promises (id, plan_id, amount_minor, due_on, status, rep, created_at)
      select 'promise-' || plan_id, plan_id, 5000, now() + interval '7 days', 'open', 'Seeded rep', created_at + interval '31 days'
      from seed where status = 'promised'`;
    // Every other promise is paid in installments, so the plan view's schedule query has rows to find.
    await tx`insert into payment_schedules (id, promise_id, plan_id, created_at)
      select 'promise-' || plan_id, 'promise-' || plan_id, plan_id, created_at + interval '31 days' from seed where status = 'promised' and i % 2 = 0`;
    await tx`insert into payment_schedule_items (schedule_id, seq, amount_minor, due_on)
      select 'promise-' || plan_id, k, 2500, now() + k * interval '7 days' from seed cross join generate_series(1, 2) k
      where status = 'promised' and i % 2 = 0`;
    await tx`insert into timeline_events (plan_id, event_key, seq, at, kind, summary)
      select s.plan_id, 'seed:' || g, g, s.created_at + (g - 1) * interval '1 day',
        case when g = 1 then 'initiated' else 'email_sent' end, 'Seeded event ' || g
      from seed s cross join lateral generate_series(1, s.done + 1) g where s.status <> 'not_started'`;
  });
  // What autovacuum would have done to a database that grew over a year: planner statistics
  // and the visibility map (index-only scans), so the plans measured are the ones users get.
  await sql`vacuum (analyze) accounts, contacts, invoices, collection_plans, collection_plan_items, orchestration_steps,
    tasks, payment_promises, payment_schedules, payment_schedule_items, timeline_events, worklist_entries`;
}

/** Time zones the worklist seed spreads accounts over: its "today" is not one date for all. */
const worklistZones = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Pacific/Auckland', 'America/Los_Angeles', 'Etc/UTC'];

/**
 * The rep console's worst day: seedPlans' portfolio, then every open plan given an open task
 * (seedPlans leaves most without one), so every open plan is a worklist candidate; accounts
 * spread over six time zones and one in ten in USD, so the filters and the calendar have
 * something to tell apart. Open plans are 82 % of n.
 */
export async function seedWorklist(sql: postgres.Sql, n: number): Promise<void> {
  await seedPlans(sql, n);
  await sql.begin(async (tx) => {
    await tx`update accounts a set timezone = (${worklistZones}::text[])[1 + (substring(a.id from 6)::int % ${worklistZones.length})],
        currency = case when substring(a.id from 6)::int % 10 = 3 then 'USD' else a.currency end
      where a.id like 'SEED-%'`;
    await tx`update invoices set currency = 'USD' where account_id like 'SEED-%' and substring(account_id from 6)::int % 10 = 3`;
    await tx`update collection_plans set currency = 'USD' where id like 'plan-SEED-%' and substring(id from 11)::int % 10 = 3`;
    await tx`insert into tasks (id, plan_id, kind, status, reason, created_at)
      select 'task-' || p.id || '-console', p.id,
        (array['manual_escalation', 'rep_escalation', 'email_failed', 'no_contact'])[1 + substring(p.id from 11)::int % 4], 'open',
        'Seeded: needs a person', p.created_at + interval '30 days'
      from collection_plans p
      where p.id like 'plan-SEED-%' and p.status not in ('resolved', 'cancelled', 'written_off')
        and not exists (select 1 from tasks t where t.plan_id = p.id and t.status = 'open')`;
  });
  await sql`vacuum (analyze) accounts, invoices, collection_plans, tasks, worklist_entries`;
}

/**
 * What the reports and the forecast read, on top of seedPlans' portfolio (n plans already
 * there): each initiated plan running the standard policy's snapshot (send window 08:00–21:00),
 * the steps still ahead of open plans spread over the next 30 days at every hour (so a third
 * of the emails fall outside the window and wait for it); half the initiated plans under the
 * policy's version 2, payments (resolved plans paid in full an hour
 * before closing, a third of the open ones 25.00 after their first reminder), a promise for one
 * plan in five by 25 reps (kept, broken or open), and timelines grown to 11 events per
 * initiated plan (about 1,000,000 for 100,000 plans), though no report reads them.
 */
export async function seedReportHistory(sql: postgres.Sql): Promise<void> {
  const i = sql`substring(p.id from 11)::int`;
  await sql.begin(async (tx) => {
    await tx`insert into plan_policy_snapshots (plan_id, policy)
      select p.id, d.definition from collection_plans p join dunning_policies d on d.name = 'standard'
      where p.id like 'plan-SEED-%' and p.initiated_at is not null
      on conflict (plan_id) do update set policy = excluded.policy`;
    await tx`update collection_plans p set policy_version = case when ${i} % 2 = 0 then 2 else 1 end,
        send_window_from = d.definition -> 'sendWindow' ->> 'from', send_window_to = d.definition -> 'sendWindow' ->> 'to'
      from dunning_policies d
      where d.name = 'standard' and p.id like 'plan-SEED-%' and p.initiated_at is not null`;
    await tx`update orchestration_steps s set scheduled_for = now() + (${i} % 30) * interval '1 day' + (${i} % 24 + s.ordinal) * interval '1 hour'
      from collection_plans p
      where p.id = s.plan_id and p.id like 'plan-SEED-%' and s.status in ('pending', 'waiting')
        and p.status not in ('resolved', 'cancelled', 'written_off')`;
    await tx`insert into payments (id, plan_id, amount_minor, currency, received_at)
      select 'pay-full-' || p.id, p.id, sum(inv.amount_minor), p.currency, p.closed_at - interval '1 hour'
      from collection_plans p join invoices inv on inv.account_id = p.account_id
      where p.id like 'plan-SEED-%' and p.status = 'resolved' group by p.id
      on conflict do nothing`;
    await tx`insert into payments (id, plan_id, amount_minor, currency, received_at)
      select 'pay-part-' || p.id, p.id, 2500, p.currency, p.created_at + interval '15 days'
      from collection_plans p where p.id like 'plan-SEED-%' and p.status in ('in_progress', 'escalated', 'promised') and ${i} % 3 = 0
      on conflict do nothing`;
    await tx`insert into payment_promises (id, plan_id, amount_minor, due_on, status, rep, created_at)
      select 'promise-report-' || p.id, p.id, 5000, p.created_at + interval '40 days',
        (array['kept', 'broken', 'open'])[1 + ${i} % 3], 'Rep ' || (${i} / 5 % 25), p.created_at + interval '31 days'
      from collection_plans p where p.id like 'plan-SEED-%' and p.initiated_at is not null and ${i} % 5 = 0
      on conflict do nothing`;
    await tx`insert into timeline_events (plan_id, event_key, seq, at, kind, summary)
      select p.id, 'seed-report:' || g, 100 + g, p.created_at + g * interval '1 hour', 'email_sent', 'Seeded event ' || g
      from collection_plans p
      join (select plan_id, count(*) as events from timeline_events group by plan_id) e on e.plan_id = p.id
      cross join generate_series(1, 11) g
      where p.id like 'plan-SEED-%' and p.initiated_at is not null and g > e.events
      on conflict do nothing`;
  });
  await sql`vacuum (analyze) collection_plans, plan_policy_snapshots, orchestration_steps, payments, payment_promises, timeline_events`;
}
