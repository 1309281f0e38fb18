ALTER TABLE "queries" ADD COLUMN "quality" jsonb;--> statement-breakpoint
ALTER TABLE "queries" ADD COLUMN "query_class" text;--> statement-breakpoint
ALTER TABLE "queries" ADD COLUMN "escalation" jsonb;