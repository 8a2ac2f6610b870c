CREATE INDEX "collection_plans_id_created" ON "collection_plans" USING btree ("id","created_at");--> statement-breakpoint
CREATE INDEX "payment_schedules_plan" ON "payment_schedules" USING btree ("plan_id");--> statement-breakpoint
CREATE INDEX "tasks_open_kind" ON "tasks" USING btree ("kind","plan_id") WHERE status = 'open';