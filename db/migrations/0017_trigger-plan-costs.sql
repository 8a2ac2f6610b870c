-- The two functions the triggers call (worklist_refresh from 0005/0016, payments_credit from
-- 0008) ran every statement with a fresh custom plan, and the journey calls them about twenty
-- times a plan: planning, not running, was most of their cost (about 1 ms a call for the
-- credit's update alone). Their statements read a plan's rows through an index whatever the
-- number of plans passed, so one generic plan per session serves a plan's sync and an import's
-- 100,000 plans alike.
ALTER FUNCTION worklist_refresh(text[]) SET plan_cache_mode = force_generic_plan;
--> statement-breakpoint
-- payments_credit, as in 0008, with its update rewritten: joined to itself, the update hashed
-- the whole payments table for every plan credited (a sequential scan per step a paying plan
-- completes, growing with every payment ever recorded). The update now finds the plans' payments
-- through the payments_plan index and reads each one's step beside it (once more to compare).
CREATE OR REPLACE FUNCTION payments_credit(plan_ids text[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  IF plan_ids IS NULL OR cardinality(plan_ids) = 0 THEN
    RETURN;
  END IF;
  -- A payment and a step of the same plan written at once would each miss the other (each
  -- statement's snapshot predates the other's commit): the plan row's lock makes the second wait,
  -- and its statements below then see the first. In id order, as worklist_refresh takes them.
  PERFORM 1 FROM collection_plans WHERE id = ANY (plan_ids) ORDER BY id FOR NO KEY UPDATE;
  UPDATE payments pm SET after_step = (SELECT s.key FROM orchestration_steps s
      WHERE s.plan_id = pm.plan_id AND s.status = 'completed' AND s.completed_at <= pm.received_at
      ORDER BY s.completed_at DESC, s.ordinal DESC LIMIT 1)
  WHERE pm.plan_id = ANY (plan_ids) AND pm.after_step IS DISTINCT FROM (SELECT s.key FROM orchestration_steps s
      WHERE s.plan_id = pm.plan_id AND s.status = 'completed' AND s.completed_at <= pm.received_at
      ORDER BY s.completed_at DESC, s.ordinal DESC LIMIT 1);
END $$;
