CREATE TABLE "webhook_endpoint_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"endpoint_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"summary" text NOT NULL,
	CONSTRAINT "webhook_endpoint_events_kind" CHECK (kind in ('added', 'disabled', 'enabled', 'secret_rotated'))
);
--> statement-breakpoint
ALTER TABLE "webhook_endpoint_events" ADD CONSTRAINT "webhook_endpoint_events_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_endpoint_events_endpoint" ON "webhook_endpoint_events" USING btree ("endpoint_id","id");--> statement-breakpoint
CREATE INDEX "plan_events_occurred" ON "plan_events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_event" ON "webhook_deliveries" USING btree ("event_position");--> statement-breakpoint
-- Each endpoint's own timeline, written by whatever changes it (a door, or the delivery workflow
-- giving up after a day): ops read it in `dunning webhook show` and GET /v1/webhooks/{id}.
CREATE FUNCTION webhook_endpoint_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  waiting bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO webhook_endpoint_events (endpoint_id, kind, summary)
      VALUES (NEW.id, 'added', format('Added: %s takes %s.', NEW.url, array_to_string(NEW.events, ', ')));
    RETURN NULL;
  END IF;
  IF OLD.status = 'enabled' AND NEW.status = 'disabled' THEN
    SELECT count(*) INTO waiting FROM webhook_deliveries WHERE endpoint_id = NEW.id AND status = 'pending';
    INSERT INTO webhook_endpoint_events (endpoint_id, kind, summary)
      VALUES (NEW.id, 'disabled', format('%s %s; `dunning webhook enable %s` sends %s.',
        rtrim(NEW.disabled_reason, '.') || '.',
        CASE waiting WHEN 0 THEN 'No event waits for it' WHEN 1 THEN '1 event waits for it' ELSE waiting || ' events wait for it' END,
        NEW.id,
        CASE waiting WHEN 0 THEN 'what comes after' WHEN 1 THEN 'it and what comes after' ELSE 'them and what comes after' END));
  ELSIF OLD.status = 'disabled' AND NEW.status = 'enabled' THEN
    INSERT INTO webhook_endpoint_events (endpoint_id, kind, summary)
      VALUES (NEW.id, 'enabled', 'Enabled: events waiting and every event from now on are sent to it; those recorded while it was disabled are not.');
  END IF;
  IF NEW.secret_ciphertext IS DISTINCT FROM OLD.secret_ciphertext THEN
    INSERT INTO webhook_endpoint_events (endpoint_id, kind, summary)
      VALUES (NEW.id, 'secret_rotated', format('Secret rotated; the previous one signs too until %s.',
        to_char(NEW.previous_secret_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER webhook_endpoint_history AFTER INSERT OR UPDATE ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION webhook_endpoint_history();
--> statement-breakpoint
-- Endpoints from before this migration start their timeline with what is known of them.
INSERT INTO webhook_endpoint_events (endpoint_id, at, kind, summary)
  SELECT id, created_at, 'added', format('Added: %s takes %s.', url, array_to_string(events, ', ')) FROM webhook_endpoints;
--> statement-breakpoint
INSERT INTO webhook_endpoint_events (endpoint_id, at, kind, summary)
  SELECT id, updated_at, 'disabled', rtrim(disabled_reason, '.') || '.' FROM webhook_endpoints WHERE status = 'disabled';
