CREATE TABLE "agency_handoffs" (
	"plan_id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"currency" text NOT NULL,
	"owed_minor" bigint NOT NULL,
	"items" jsonb NOT NULL,
	"handed_off_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "collection_plans" DROP CONSTRAINT "collection_plans_status";--> statement-breakpoint
ALTER TABLE "orchestration_steps" DROP CONSTRAINT "orchestration_steps_action";--> statement-breakpoint
ALTER TABLE "plan_events" DROP CONSTRAINT "plan_events_type";--> statement-breakpoint
DROP INDEX "collection_plans_one_open_per_account";--> statement-breakpoint
ALTER TABLE "email_messages" ADD COLUMN "kind" text DEFAULT 'dunning' NOT NULL;--> statement-breakpoint
ALTER TABLE "invoices" ADD COLUMN "kind" text DEFAULT 'invoice' NOT NULL;--> statement-breakpoint
ALTER TABLE "agency_handoffs" ADD CONSTRAINT "agency_handoffs_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "email_messages_contact_cap" ON "email_messages" USING btree ("to_address","created_at") WHERE kind = 'dunning';--> statement-breakpoint
CREATE UNIQUE INDEX "collection_plans_one_open_per_account" ON "collection_plans" USING btree ("account_id") WHERE status not in ('resolved', 'cancelled', 'written_off', 'sent_to_agency', 'service_cancelled');--> statement-breakpoint
ALTER TABLE "collection_plans" ADD CONSTRAINT "collection_plans_status" CHECK (status in ('not_started', 'in_progress', 'on_hold', 'promised', 'escalated', 'resolved', 'cancelled', 'written_off', 'sent_to_agency', 'service_cancelled'));--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_kind" CHECK (kind in ('dunning', 'transactional'));--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_kind" CHECK (kind in ('invoice', 'late_fee'));--> statement-breakpoint
ALTER TABLE "orchestration_steps" ADD CONSTRAINT "orchestration_steps_action" CHECK (action in ('email', 'task', 'write_off', 'send_to_agency', 'cancel_service'));--> statement-breakpoint
ALTER TABLE "plan_events" ADD CONSTRAINT "plan_events_type" CHECK (type in ('plan.initiated', 'plan.step_completed', 'plan.escalated', 'plan.promise_made', 'plan.promise_kept', 'plan.promise_broken', 'plan.paused', 'plan.resumed', 'plan.payment_applied', 'plan.resolved', 'plan.cancelled', 'plan.written_off', 'plan.sent_to_agency', 'plan.service_cancelled'));--> statement-breakpoint
-- Receipts and promise confirmations sent before this migration are not dunning: contact caps do not count them.
UPDATE email_messages SET kind = 'transactional' WHERE template IN ('payment-receipt', 'promise-confirmation');
--> statement-breakpoint
-- The plan's close by a policy's end action is an event too (plan.sent_to_agency, plan.service_cancelled).
CREATE OR REPLACE FUNCTION plan_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  owed_rows integer;
BEGIN
  WITH typed AS (
    SELECT t.*, CASE
        WHEN t.kind = 'initiated' THEN 'plan.initiated'
        WHEN t.kind IN ('email_sent', 'email_skipped', 'step') AND t.event_key LIKE 'step:%' THEN 'plan.step_completed'
        WHEN t.kind = 'escalated' THEN 'plan.escalated'
        WHEN t.kind IN ('promise_made', 'promise_kept', 'promise_broken') THEN 'plan.' || t.kind
        WHEN t.kind IN ('paused', 'resumed') THEN 'plan.' || t.kind
        WHEN t.kind = 'payment' THEN 'plan.payment_applied'
        WHEN t.kind IN ('resolved', 'cancelled', 'written_off', 'sent_to_agency', 'service_cancelled') THEN 'plan.' || t.kind
      END AS type,
      'evt_' || replace(t.id::text, '-', '') AS event_id,
      CASE WHEN t.kind = 'payment' THEN substr(t.event_key, length('payment:') + 1) END AS payment_id,
      CASE WHEN t.kind LIKE 'promise_%' THEN substr(t.event_key, strpos(t.event_key, ':') + 1) END AS promise_id
    FROM new_rows t
  ), recorded AS (
    INSERT INTO plan_events (id, type, plan_id, occurred_at, body)
    SELECT e.event_id, e.type, e.plan_id, e.at, jsonb_build_object(
        'type', e.type,
        'timestamp', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'data', jsonb_strip_nulls(jsonb_build_object(
          'id', e.event_id, 'version', 1, 'planId', e.plan_id, 'accountId', p.account_id, 'currency', p.currency,
          'owedMinor', coalesce(owed.minor, 0), 'status', p.status, 'summary', e.summary,
          'step', CASE WHEN e.type = 'plan.step_completed' THEN substr(e.event_key, length('step:') + 1) END,
          'outcome', CASE e.kind WHEN 'email_sent' THEN 'sent' WHEN 'email_skipped' THEN 'skipped' WHEN 'step' THEN 'task_created' END,
          'paymentId', e.payment_id, 'promiseId', e.promise_id,
          'amountMinor', coalesce(pm.amount_minor, pp.amount_minor))))
    FROM typed e
    JOIN collection_plans p ON p.id = e.plan_id
    LEFT JOIN LATERAL (SELECT sum(i.open_minor) AS minor FROM collection_plan_items ci JOIN invoices i ON i.id = ci.invoice_id
                       WHERE ci.plan_id = e.plan_id AND ci.status = 'open') owed ON true
    LEFT JOIN payments pm ON pm.id = e.payment_id
    LEFT JOIN payment_promises pp ON pp.id = e.promise_id
    WHERE e.type IS NOT NULL
    -- Positions follow each plan's own order within the statement.
    ORDER BY e.plan_id, e.seq
    RETURNING position, type
  ), owed_out AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_position)
    SELECT w.id, r.position FROM recorded r JOIN webhook_endpoints w ON w.status = 'enabled' AND r.type = ANY (w.events)
    RETURNING 1
  )
  SELECT count(*) INTO owed_rows FROM owed_out;
  IF owed_rows > 0 THEN
    PERFORM pg_notify('plan_events', '');
  END IF;
  RETURN NULL;
END $$;
