DROP INDEX "email_messages_contact_cap";--> statement-breakpoint
CREATE INDEX "email_messages_contact_cap" ON "email_messages" USING btree (lower("to_address"),"created_at") WHERE kind = 'dunning';