CREATE TABLE "plan_events" (
	"position" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"plan_id" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"body" jsonb NOT NULL,
	CONSTRAINT "plan_events_id_unique" UNIQUE("id"),
	CONSTRAINT "plan_events_type" CHECK (type in ('plan.initiated', 'plan.step_completed', 'plan.escalated', 'plan.promise_made', 'plan.promise_kept', 'plan.promise_broken', 'plan.paused', 'plan.resumed', 'plan.payment_applied', 'plan.resolved', 'plan.cancelled', 'plan.written_off'))
);
--> statement-breakpoint
CREATE TABLE "webhook_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"endpoint_id" text NOT NULL,
	"event_id" text NOT NULL,
	"http_status" integer,
	"latency_ms" integer NOT NULL,
	"error" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"endpoint_id" text NOT NULL,
	"event_position" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_deliveries_endpoint_id_event_position_pk" PRIMARY KEY("endpoint_id","event_position"),
	CONSTRAINT "webhook_deliveries_status" CHECK (status in ('pending', 'delivered', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"id" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"events" text[] NOT NULL,
	"secret_ciphertext" text NOT NULL,
	"previous_secret_ciphertext" text,
	"previous_secret_expires_at" timestamp with time zone,
	"status" text DEFAULT 'enabled' NOT NULL,
	"disabled_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_endpoints_status" CHECK (status in ('enabled', 'disabled'))
);
--> statement-breakpoint
ALTER TABLE "plan_events" ADD CONSTRAINT "plan_events_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_position_plan_events_position_fk" FOREIGN KEY ("event_position") REFERENCES "public"."plan_events"("position") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "plan_events_plan" ON "plan_events" USING btree ("plan_id","position");--> statement-breakpoint
CREATE INDEX "webhook_attempts_endpoint" ON "webhook_attempts" USING btree ("endpoint_id","at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending" ON "webhook_deliveries" USING btree ("endpoint_id","event_position") WHERE status = 'pending';--> statement-breakpoint
-- A plan event is recorded with the timeline entry that tells of it, by a trigger: every writer
-- of the timeline (the journey's sync, the payment path of a plan with no journey, any future
-- one) records its events in its own transaction, so a worker dying between the change and the
-- event cannot lose one, and a change rolled back takes its event with it. The body is built
-- here, from the plan as the change left it (what is still owed, the status), and stored as sent.
-- Each event is owed at once to every enabled endpoint that takes its type (webhook_deliveries),
-- and the deliverers listening on `plan_events` are woken.
CREATE FUNCTION plan_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
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
        WHEN t.kind IN ('resolved', 'cancelled', 'written_off') THEN 'plan.' || t.kind
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
--> statement-breakpoint
CREATE TRIGGER plan_events_recorded AFTER INSERT ON timeline_events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION plan_events_record();
--> statement-breakpoint
-- An endpoint added, enabled or disabled, by any door: the engine's workers hear it on
-- `webhook_endpoints` and start its delivery (or let it end), so neither door needs Temporal.
CREATE FUNCTION webhook_endpoints_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('webhook_endpoints', '');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER webhook_endpoints_changed AFTER INSERT OR UPDATE OF status ON webhook_endpoints
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_endpoints_changed();
