CREATE TABLE "experiments" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"variants" jsonb NOT NULL,
	"winner" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "query_feedback" (
	"query_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"rating" text NOT NULL,
	"comment" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "queries" ADD COLUMN "experiment_id" text;--> statement-breakpoint
ALTER TABLE "queries" ADD COLUMN "experiment_variant" text;--> statement-breakpoint
ALTER TABLE "queries" ADD COLUMN IF NOT EXISTS "quality_score" real;--> statement-breakpoint
ALTER TABLE "query_feedback" ADD CONSTRAINT "query_feedback_query_id_queries_id_fk" FOREIGN KEY ("query_id") REFERENCES "public"."queries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "experiments_one_running_idx" ON "experiments" USING btree ("status") WHERE "experiments"."status" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "experiments_one_promoted_idx" ON "experiments" USING btree ("status") WHERE "experiments"."status" = 'promoted';--> statement-breakpoint
CREATE INDEX "query_feedback_updated_idx" ON "query_feedback" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "queries_experiment_idx" ON "queries" USING btree ("experiment_id","experiment_variant") WHERE "queries"."experiment_id" is not null;