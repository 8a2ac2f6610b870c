CREATE TABLE "segmentation_rules" (
	"version" integer PRIMARY KEY NOT NULL,
	"definition" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "segment" text;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "risk_score" integer;--> statement-breakpoint
ALTER TABLE "collection_plans" ADD COLUMN "segmentation_rules_version" integer;--> statement-breakpoint
ALTER TABLE "collection_plans" ADD COLUMN "segmentation_rule" text;--> statement-breakpoint
ALTER TABLE "collection_plans" ADD CONSTRAINT "collection_plans_segmentation_rules_version_segmentation_rules_version_fk" FOREIGN KEY ("segmentation_rules_version") REFERENCES "public"."segmentation_rules"("version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_risk_score_range" CHECK ("accounts"."risk_score" between 0 and 100);