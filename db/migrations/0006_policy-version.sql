ALTER TABLE "collection_plans" ADD COLUMN "policy_version" integer;--> statement-breakpoint
-- Plans initiated before versions were recorded: the version whose definition they run, when it is
-- still the current one; an older definition is no longer stored, so those stay unknown (null).
UPDATE "collection_plans" p SET "policy_version" = d."version"
FROM "dunning_policies" d
WHERE p."policy_version" IS NULL AND p."policy_snapshot" IS NOT NULL AND d."name" = p."policy_name" AND d."definition" = p."policy_snapshot";
