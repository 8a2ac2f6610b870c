-- worklist_refresh, as in 0005, with one change: a plan with no open task and no worklist row has
-- nothing to refresh, and returns once its lock is held. Most calls are such plans (the journey's
-- status changes, initiation's not_started -> in_progress), and planning the delete and the
-- insert below cost each of them a few milliseconds of the database's CPU. The check runs after
-- the lock: a transaction adding a task to the plan refreshes under the same lock, so it either
-- committed before the check (which then sees its task) or waits until this one commits.
CREATE OR REPLACE FUNCTION worklist_refresh(plan_ids text[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  IF plan_ids IS NULL OR cardinality(plan_ids) = 0 THEN
    RETURN;
  END IF;
  -- One refresh of a plan at a time: two transactions changing the same plan (a payment and the
  -- journey's sync) would each compute the row from a snapshot without the other's change, and
  -- the later write would win stale. The plan row's lock makes the second wait for the first to
  -- commit; each statement below then reads a fresh snapshot (READ COMMITTED) that holds both.
  -- Taken in id order, so two statements over many plans cannot deadlock on each other.
  PERFORM 1 FROM collection_plans WHERE id = ANY (plan_ids) ORDER BY id FOR NO KEY UPDATE;
  IF NOT EXISTS (SELECT 1 FROM tasks t WHERE t.plan_id = ANY (plan_ids) AND t.status = 'open')
    AND NOT EXISTS (SELECT 1 FROM worklist_entries e WHERE e.plan_id = ANY (plan_ids)) THEN
    RETURN;
  END IF;
  DELETE FROM worklist_entries e WHERE e.plan_id = ANY (plan_ids)
    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.plan_id = e.plan_id AND t.status = 'open');
  INSERT INTO worklist_entries AS e (plan_id, account_id, account_name, status, currency, time_zone, task_kinds, broken_promise, owed_minor, earliest_due_on)
  SELECT p.id, p.account_id, a.name, p.status, p.currency, a.timezone, k.kinds, 'promise_broken' = ANY (k.kinds),
    coalesce(o.owed, 0), o.due
  FROM (SELECT t.plan_id, array_agg(DISTINCT t.kind ORDER BY t.kind) AS kinds FROM tasks t
        WHERE t.plan_id = ANY (plan_ids) AND t.status = 'open' GROUP BY t.plan_id) k
  JOIN collection_plans p ON p.id = k.plan_id
  JOIN accounts a ON a.id = p.account_id
  LEFT JOIN (SELECT ci.plan_id, sum(i.open_minor) AS owed, min(i.due_on) FILTER (WHERE i.open_minor > 0) AS due
             FROM collection_plan_items ci JOIN invoices i ON i.id = ci.invoice_id
             WHERE ci.plan_id = ANY (plan_ids) AND ci.status = 'open' GROUP BY ci.plan_id) o ON o.plan_id = p.id
  ON CONFLICT (plan_id) DO UPDATE SET account_id = excluded.account_id, account_name = excluded.account_name, status = excluded.status, currency = excluded.currency,
    time_zone = excluded.time_zone, task_kinds = excluded.task_kinds, broken_promise = excluded.broken_promise,
    owed_minor = excluded.owed_minor, earliest_due_on = excluded.earliest_due_on
  WHERE (e.account_id, e.account_name, e.status, e.currency, e.time_zone, e.task_kinds, e.broken_promise, e.owed_minor, e.earliest_due_on)
    IS DISTINCT FROM (excluded.account_id, excluded.account_name, excluded.status, excluded.currency, excluded.time_zone, excluded.task_kinds,
      excluded.broken_promise, excluded.owed_minor, excluded.earliest_due_on);
END $$;
