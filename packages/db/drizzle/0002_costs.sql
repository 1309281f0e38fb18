CREATE TABLE "cost_ledger" (
	"query_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"day" date NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"input_nanos_per_token" integer NOT NULL,
	"output_nanos_per_token" integer NOT NULL,
	"cost_micros" bigint NOT NULL,
	"cached" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "global_daily_costs" (
	"day" date PRIMARY KEY NOT NULL,
	"queries" integer DEFAULT 0 NOT NULL,
	"cache_hits" integer DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_micros" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_api_costs" (
	"user_id" text NOT NULL,
	"day" date NOT NULL,
	"queries" integer DEFAULT 0 NOT NULL,
	"cache_hits" integer DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_micros" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "user_api_costs_user_id_day_pk" PRIMARY KEY("user_id","day")
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "limits_override" jsonb;--> statement-breakpoint
CREATE INDEX "cost_ledger_user_day_idx" ON "cost_ledger" USING btree ("user_id","day");--> statement-breakpoint
CREATE INDEX "user_api_costs_day_idx" ON "user_api_costs" USING btree ("day");