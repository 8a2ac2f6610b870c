CREATE TABLE "plan_policy_snapshots" (
	"plan_id" text PRIMARY KEY NOT NULL,
	"policy" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "collection_plans" ADD COLUMN "send_window_from" text;--> statement-breakpoint
ALTER TABLE "collection_plans" ADD COLUMN "send_window_to" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "after_step" text;--> statement-breakpoint
ALTER TABLE "plan_policy_snapshots" ADD CONSTRAINT "plan_policy_snapshots_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint

-- The snapshots move out of the plan rows: a plan row was about 700 bytes, 600 of them the
-- snapshot (below PostgreSQL's 2 kB toast threshold, so stored inline), and every list and
-- report scans the plans. Each plan keeps its snapshot's send window for the forecast.
INSERT INTO "plan_policy_snapshots" ("plan_id", "policy")
SELECT "id", "policy_snapshot" FROM "collection_plans" WHERE "policy_snapshot" IS NOT NULL;
--> statement-breakpoint
ALTER TABLE "collection_plans" DROP COLUMN "policy_snapshot";
--> statement-breakpoint
UPDATE "collection_plans" p SET "send_window_from" = s."policy" -> 'sendWindow' ->> 'from', "send_window_to" = s."policy" -> 'sendWindow' ->> 'to'
FROM "plan_policy_snapshots" s WHERE s."plan_id" = p."id";
--> statement-breakpoint
-- A dropped column stays in the rows already written, and vacuum would only mark the old rows'
-- space free: rewrite the table once (VACUUM FULL cannot run in a migration's transaction; a
-- table's CLUSTER can), then forget the clustering order it records. 100,000 plans: 88 MB to 15 MB.
CLUSTER "collection_plans" USING "collection_plans_pkey";
--> statement-breakpoint
ALTER TABLE "collection_plans" SET WITHOUT CLUSTER;
--> statement-breakpoint
-- Which step a payment followed is kept with the payment, so the steps report groups 40,000
-- payments instead of looking up each one's steps. Triggers keep it, as they keep the worklist
-- (0005): a payment is credited when it is written, and a plan's payments again whenever a step
-- of it completes (or stops being completed), for a payment can be received after a step it was
-- recorded before (a received time ahead of the journey's clock). payments_credit recomputes the
-- column from the steps, never a running value that could drift.
CREATE FUNCTION payments_credit(plan_ids text[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  IF plan_ids IS NULL OR cardinality(plan_ids) = 0 THEN
    RETURN;
  END IF;
  -- A payment and a step of the same plan written at once would each miss the other (each
  -- statement's snapshot predates the other's commit): the plan row's lock makes the second wait,
  -- and its statements below then see the first. In id order, as worklist_refresh takes them.
  PERFORM 1 FROM collection_plans WHERE id = ANY (plan_ids) ORDER BY id FOR NO KEY UPDATE;
  UPDATE payments pm SET after_step = c.step
  FROM (SELECT pm2.id, (SELECT s.key FROM orchestration_steps s
          WHERE s.plan_id = pm2.plan_id AND s.status = 'completed' AND s.completed_at <= pm2.received_at
          ORDER BY s.completed_at DESC, s.ordinal DESC LIMIT 1) AS step
        FROM payments pm2 WHERE pm2.plan_id = ANY (plan_ids)) c
  WHERE pm.id = c.id AND pm.after_step IS DISTINCT FROM c.step;
END $$;
--> statement-breakpoint
-- A payment written or moved in time (its own credit update changes neither, and stops here).
CREATE FUNCTION payments_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM payments_credit(ARRAY(SELECT DISTINCT plan_id FROM new_rows));
  ELSE
    PERFORM payments_credit(ARRAY(
      SELECT n.plan_id FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (o.plan_id, o.received_at) IS DISTINCT FROM (n.plan_id, n.received_at)));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER payments_inserted AFTER INSERT ON payments REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_changed();
--> statement-breakpoint
CREATE TRIGGER payments_updated AFTER UPDATE ON payments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_changed();
--> statement-breakpoint
-- The journey's sync upserts every step of a plan at every step, mostly unchanged: only the plans
-- whose completed steps changed (one appeared, went, or moved in time or order) are credited again.
CREATE FUNCTION payments_steps_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM payments_credit(ARRAY(SELECT DISTINCT plan_id FROM new_rows WHERE status = 'completed'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM payments_credit(ARRAY(SELECT DISTINCT plan_id FROM old_rows WHERE status = 'completed'));
  ELSE
    PERFORM payments_credit(ARRAY(
      SELECT o.plan_id FROM old_rows o WHERE o.status = 'completed' AND NOT EXISTS
        (SELECT 1 FROM new_rows n WHERE n.plan_id = o.plan_id AND n.key = o.key AND n.status = 'completed'
          AND n.completed_at IS NOT DISTINCT FROM o.completed_at AND n.ordinal = o.ordinal)
      UNION
      SELECT n.plan_id FROM new_rows n WHERE n.status = 'completed' AND NOT EXISTS
        (SELECT 1 FROM old_rows o WHERE o.plan_id = n.plan_id AND o.key = n.key AND o.status = 'completed'
          AND o.completed_at IS NOT DISTINCT FROM n.completed_at AND o.ordinal = n.ordinal)));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER payments_steps_inserted AFTER INSERT ON orchestration_steps REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_steps_changed();
--> statement-breakpoint
CREATE TRIGGER payments_steps_updated AFTER UPDATE ON orchestration_steps REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_steps_changed();
--> statement-breakpoint
CREATE TRIGGER payments_steps_deleted AFTER DELETE ON orchestration_steps REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION payments_steps_changed();
--> statement-breakpoint
-- Backfill: every payment, in this migration's transaction.
SELECT payments_credit(ARRAY(SELECT DISTINCT plan_id FROM payments));
