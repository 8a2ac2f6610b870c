-- The worklist's search matches any part of an account's name or id through trigram indexes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE TABLE "worklist_entries" (
	"plan_id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"account_name" text NOT NULL,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"time_zone" text NOT NULL,
	"task_kinds" text[] NOT NULL,
	"broken_promise" boolean NOT NULL,
	"owed_minor" bigint NOT NULL,
	"earliest_due_on" date
);
--> statement-breakpoint
ALTER TABLE "worklist_entries" ADD CONSTRAINT "worklist_entries_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "worklist_entries_account_name_trgm" ON "worklist_entries" USING gin ("account_name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "worklist_entries_account_id_trgm" ON "worklist_entries" USING gin ("account_id" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "worklist_entries_time_zone" ON "worklist_entries" USING btree ("time_zone");--> statement-breakpoint
CREATE INDEX "worklist_entries_by_owed" ON "worklist_entries" USING btree ("broken_promise" DESC NULLS LAST,"owed_minor" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "worklist_entries_by_due" ON "worklist_entries" USING btree ("broken_promise" DESC NULLS LAST,"earliest_due_on");--> statement-breakpoint
CREATE INDEX "worklist_entries_queue_manual_escalation" ON "worklist_entries" USING btree ("status","currency") WHERE 'manual_escalation' = any(task_kinds);--> statement-breakpoint
CREATE INDEX "worklist_entries_queue_promise_broken" ON "worklist_entries" USING btree ("status","currency") WHERE 'promise_broken' = any(task_kinds);--> statement-breakpoint
CREATE INDEX "worklist_entries_queue_email_failed" ON "worklist_entries" USING btree ("status","currency") WHERE 'email_failed' = any(task_kinds);--> statement-breakpoint
CREATE INDEX "worklist_entries_queue_opted_out" ON "worklist_entries" USING btree ("status","currency") WHERE 'opted_out' = any(task_kinds);--> statement-breakpoint
CREATE INDEX "worklist_entries_queue_no_contact" ON "worklist_entries" USING btree ("status","currency") WHERE 'no_contact' = any(task_kinds);--> statement-breakpoint
CREATE INDEX "worklist_entries_queue_rep_escalation" ON "worklist_entries" USING btree ("status","currency") WHERE 'rep_escalation' = any(task_kinds);--> statement-breakpoint
CREATE INDEX "collection_plan_items_invoice" ON "collection_plan_items" USING btree ("invoice_id");--> statement-breakpoint
-- The queue counts read the kinds' partial indexes alone while the table's pages are all-visible:
-- vacuum it after 1 % of its rows changed rather than the default 20 %.
ALTER TABLE "worklist_entries" SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);
--> statement-breakpoint
-- The worklist's priority inputs are kept by triggers, not by the code that writes: the journey's
-- sync, both payment paths, the import, the composite create and any future writer (or a hand
-- fix in psql) change tasks, items and invoices, and a trigger cannot be forgotten by any of
-- them. worklist_refresh recomputes whole rows for the plans a statement touched, so a row is
-- always what the tables say, never a running total that could drift.
CREATE FUNCTION worklist_refresh(plan_ids text[]) RETURNS void LANGUAGE plpgsql
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
--> statement-breakpoint
-- Statement-level triggers with transition tables: an import's 100,000 items are one refresh of
-- their plans, not 100,000. Each names only the plans whose open tasks, open items or open
-- amounts changed (the journey's sync upserts every task of a plan at every step, mostly unchanged).
CREATE FUNCTION worklist_tasks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM worklist_refresh(ARRAY(SELECT DISTINCT plan_id FROM new_rows WHERE status = 'open'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM worklist_refresh(ARRAY(SELECT DISTINCT plan_id FROM old_rows WHERE status = 'open'));
  ELSE
    PERFORM worklist_refresh(ARRAY(
      SELECT o.plan_id FROM old_rows o WHERE o.status = 'open' AND NOT EXISTS
        (SELECT 1 FROM new_rows n WHERE n.id = o.id AND n.plan_id = o.plan_id AND n.kind = o.kind AND n.status = 'open')
      UNION
      SELECT n.plan_id FROM new_rows n WHERE n.status = 'open' AND NOT EXISTS
        (SELECT 1 FROM old_rows o WHERE o.id = n.id AND o.plan_id = n.plan_id AND o.kind = n.kind AND o.status = 'open')));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER worklist_tasks_inserted AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_tasks_changed();
--> statement-breakpoint
CREATE TRIGGER worklist_tasks_updated AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_tasks_changed();
--> statement-breakpoint
CREATE TRIGGER worklist_tasks_deleted AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_tasks_changed();
--> statement-breakpoint
CREATE FUNCTION worklist_items_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM worklist_refresh(ARRAY(SELECT DISTINCT plan_id FROM new_rows WHERE status = 'open'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM worklist_refresh(ARRAY(SELECT DISTINCT plan_id FROM old_rows WHERE status = 'open'));
  ELSE
    PERFORM worklist_refresh(ARRAY(
      SELECT o.plan_id FROM old_rows o WHERE o.status = 'open' AND NOT EXISTS
        (SELECT 1 FROM new_rows n WHERE n.plan_id = o.plan_id AND n.invoice_id = o.invoice_id AND n.status = 'open')
      UNION
      SELECT n.plan_id FROM new_rows n WHERE n.status = 'open' AND NOT EXISTS
        (SELECT 1 FROM old_rows o WHERE o.plan_id = n.plan_id AND o.invoice_id = n.invoice_id AND o.status = 'open')));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER worklist_items_inserted AFTER INSERT ON collection_plan_items REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_items_changed();
--> statement-breakpoint
CREATE TRIGGER worklist_items_updated AFTER UPDATE ON collection_plan_items REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_items_changed();
--> statement-breakpoint
CREATE TRIGGER worklist_items_deleted AFTER DELETE ON collection_plan_items REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_items_changed();
--> statement-breakpoint
-- An invoice counts only through the items that hold it open; a new invoice is in no plan yet
-- (its item's insert refreshes), and one in a plan cannot be deleted (the item's foreign key).
CREATE FUNCTION worklist_invoices_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM worklist_refresh(ARRAY(
    SELECT DISTINCT ci.plan_id FROM old_rows o JOIN new_rows n ON n.id = o.id
    JOIN collection_plan_items ci ON ci.invoice_id = n.id AND ci.status = 'open'
    WHERE (o.open_minor, o.due_on) IS DISTINCT FROM (n.open_minor, n.due_on)));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER worklist_invoices_updated AFTER UPDATE ON invoices REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_invoices_changed();
--> statement-breakpoint
-- The filters read the plan's status and currency and the account's name, the calendar the
-- account's time zone, from the row; a new plan has no task yet (the task's insert refreshes it).
CREATE FUNCTION worklist_plans_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM worklist_refresh(ARRAY(
    SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.status, o.currency, o.account_id) IS DISTINCT FROM (n.status, n.currency, n.account_id)));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER worklist_plans_updated AFTER UPDATE ON collection_plans REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_plans_changed();
--> statement-breakpoint
CREATE FUNCTION worklist_accounts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM worklist_refresh(ARRAY(
    SELECT p.id FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN collection_plans p ON p.account_id = n.id
    WHERE (o.timezone, o.name) IS DISTINCT FROM (n.timezone, n.name)));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER worklist_accounts_updated AFTER UPDATE ON accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION worklist_accounts_changed();
--> statement-breakpoint
-- Backfill: every plan with an open task, in this migration's transaction.
SELECT worklist_refresh(ARRAY(SELECT DISTINCT plan_id FROM tasks WHERE status = 'open'));
