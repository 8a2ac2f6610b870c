CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"timezone" text NOT NULL,
	"currency" text NOT NULL,
	"locale" text DEFAULT 'en-US' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_currency_iso" CHECK ("accounts"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "collection_plan_items" (
	"plan_id" text NOT NULL,
	"invoice_id" uuid NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"on_hold_until" date,
	"hold_reason" text,
	CONSTRAINT "collection_plan_items_plan_id_invoice_id_pk" PRIMARY KEY("plan_id","invoice_id"),
	CONSTRAINT "collection_plan_items_status" CHECK (status in ('open', 'paid', 'disputed', 'removed'))
);
--> statement-breakpoint
CREATE TABLE "collection_plans" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"policy_name" text,
	"policy_snapshot" jsonb,
	"status" text DEFAULT 'in_progress' NOT NULL,
	"currency" text NOT NULL,
	"workflow_id" text,
	"initiated_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "collection_plans_workflow_id_unique" UNIQUE("workflow_id"),
	CONSTRAINT "collection_plans_status" CHECK (status in ('in_progress', 'on_hold', 'promised', 'escalated', 'resolved', 'cancelled', 'written_off'))
);
--> statement-breakpoint
CREATE TABLE "contacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" text NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"email_consent" text DEFAULT 'opted_in' NOT NULL,
	"consent_changed_at" timestamp with time zone,
	"is_primary" boolean DEFAULT true NOT NULL,
	CONSTRAINT "contacts_email_consent" CHECK (email_consent in ('opted_in', 'opted_out'))
);
--> statement-breakpoint
CREATE TABLE "dunning_policies" (
	"name" text PRIMARY KEY NOT NULL,
	"definition" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "email_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"plan_id" text NOT NULL,
	"step_key" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"to_address" text NOT NULL,
	"subject" text NOT NULL,
	"template" text NOT NULL,
	"provider" text NOT NULL,
	"provider_message_id" text,
	"status" text DEFAULT 'queued' NOT NULL,
	"eml_path" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "email_messages_idempotency_key_unique" UNIQUE("idempotency_key"),
	CONSTRAINT "email_messages_provider" CHECK (provider in ('outbox', 'resend')),
	CONSTRAINT "email_messages_status" CHECK (status in ('queued', 'sent', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "invoices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" text NOT NULL,
	"number" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"open_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"issued_on" date NOT NULL,
	"due_on" date NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invoices_amount_nonneg" CHECK ("invoices"."amount_minor" >= 0),
	CONSTRAINT "invoices_open_range" CHECK ("invoices"."open_minor" >= 0 and "invoices"."open_minor" <= "invoices"."amount_minor"),
	CONSTRAINT "invoices_due_after_issue" CHECK ("invoices"."due_on" >= "invoices"."issued_on"),
	CONSTRAINT "invoices_status" CHECK (status in ('open', 'paid', 'void', 'disputed'))
);
--> statement-breakpoint
CREATE TABLE "orchestration_steps" (
	"plan_id" text NOT NULL,
	"key" text NOT NULL,
	"ordinal" integer NOT NULL,
	"action" text NOT NULL,
	"status" text NOT NULL,
	"scheduled_for" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"reason" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orchestration_steps_plan_id_key_pk" PRIMARY KEY("plan_id","key"),
	CONSTRAINT "orchestration_steps_action" CHECK (action in ('email', 'task')),
	CONSTRAINT "orchestration_steps_status" CHECK (status in ('pending', 'waiting', 'in_progress', 'completed', 'skipped', 'cancelled', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "payment_promises" (
	"id" text PRIMARY KEY NOT NULL,
	"plan_id" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"due_on" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"paid_minor" bigint DEFAULT 0 NOT NULL,
	"rep" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	CONSTRAINT "payment_promises_amount_pos" CHECK ("payment_promises"."amount_minor" > 0),
	CONSTRAINT "payment_promises_status" CHECK (status in ('open', 'kept', 'broken', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "payment_schedule_items" (
	"schedule_id" text NOT NULL,
	"seq" integer NOT NULL,
	"amount_minor" bigint NOT NULL,
	"due_on" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	CONSTRAINT "payment_schedule_items_schedule_id_seq_pk" PRIMARY KEY("schedule_id","seq"),
	CONSTRAINT "payment_schedule_items_amount_pos" CHECK ("payment_schedule_items"."amount_minor" > 0),
	CONSTRAINT "payment_schedule_items_status" CHECK (status in ('open', 'kept', 'broken', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "payment_schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"promise_id" text NOT NULL,
	"plan_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_schedules_promise_id_unique" UNIQUE("promise_id")
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" text PRIMARY KEY NOT NULL,
	"plan_id" text NOT NULL,
	"invoice_id" uuid,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_amount_pos" CHECK ("payments"."amount_minor" > 0)
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" text PRIMARY KEY NOT NULL,
	"plan_id" text NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"reason" text NOT NULL,
	"outcome" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone,
	CONSTRAINT "tasks_kind" CHECK (kind in ('manual_escalation', 'promise_broken', 'email_failed', 'opted_out', 'rep_escalation')),
	CONSTRAINT "tasks_status" CHECK (status in ('open', 'done', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "timeline_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"plan_id" text NOT NULL,
	"event_key" text NOT NULL,
	"seq" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"summary" text NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
ALTER TABLE "collection_plan_items" ADD CONSTRAINT "collection_plan_items_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collection_plan_items" ADD CONSTRAINT "collection_plan_items_invoice_id_invoices_id_fk" FOREIGN KEY ("invoice_id") REFERENCES "public"."invoices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collection_plans" ADD CONSTRAINT "collection_plans_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collection_plans" ADD CONSTRAINT "collection_plans_policy_name_dunning_policies_name_fk" FOREIGN KEY ("policy_name") REFERENCES "public"."dunning_policies"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orchestration_steps" ADD CONSTRAINT "orchestration_steps_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_promises" ADD CONSTRAINT "payment_promises_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_schedule_items" ADD CONSTRAINT "payment_schedule_items_schedule_id_payment_schedules_id_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."payment_schedules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_schedules" ADD CONSTRAINT "payment_schedules_promise_id_payment_promises_id_fk" FOREIGN KEY ("promise_id") REFERENCES "public"."payment_promises"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_schedules" ADD CONSTRAINT "payment_schedules_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_invoice_id_invoices_id_fk" FOREIGN KEY ("invoice_id") REFERENCES "public"."invoices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "timeline_events" ADD CONSTRAINT "timeline_events_plan_id_collection_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."collection_plans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "collection_plans_one_open_per_account" ON "collection_plans" USING btree ("account_id") WHERE status not in ('resolved', 'cancelled', 'written_off');--> statement-breakpoint
CREATE INDEX "collection_plans_status" ON "collection_plans" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "contacts_account_email" ON "contacts" USING btree ("account_id","email");--> statement-breakpoint
CREATE INDEX "email_messages_plan" ON "email_messages" USING btree ("plan_id");--> statement-breakpoint
CREATE UNIQUE INDEX "invoices_account_number" ON "invoices" USING btree ("account_id","number");--> statement-breakpoint
CREATE INDEX "payment_promises_plan" ON "payment_promises" USING btree ("plan_id");--> statement-breakpoint
CREATE INDEX "payments_plan" ON "payments" USING btree ("plan_id");--> statement-breakpoint
CREATE INDEX "tasks_plan" ON "tasks" USING btree ("plan_id");--> statement-breakpoint
CREATE UNIQUE INDEX "timeline_events_plan_key" ON "timeline_events" USING btree ("plan_id","event_key");--> statement-breakpoint
CREATE INDEX "timeline_events_plan_seq" ON "timeline_events" USING btree ("plan_id","seq");