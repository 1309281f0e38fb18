import {
  type ErrorCode,
  type ExperimentStatus,
  type ExperimentVariant,
  type FallbackInfo,
  type Source,
  TIER_NAMES,
} from '@assistant/contracts';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** Raw bytes (a Float32 little-endian vector, here). Plain Postgres: no pgvector needed. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** A full-text search vector, only ever written by Postgres itself (generated column). */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/** A person with notes; `tier` selects a row of limits in config. */
export const users = pgTable('users', {
  id: text('id').primaryKey(),
  tier: text('tier', { enum: TIER_NAMES }).notNull(),
  email: text('email'),
  // Bumped on every note change; part of every answer-cache key (kept in Redis too).
  notesGeneration: bigint('notes_generation', { mode: 'number' }).notNull().default(0),
  // An admin's per-user override of the tier's limits (a partial TierLimits), or null.
  limitsOverride: jsonb('limits_override').$type<Record<string, number>>(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** API keys: only a SHA-256 of the key is stored; keys are 256-bit random, so no slow hash is needed. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    keyHash: text('key_hash').notNull(),
    // First characters of the key, to tell keys apart in listings without revealing them.
    keyPrefix: text('key_prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_key_hash_idx').on(t.keyHash), index('api_keys_user_idx').on(t.userId)],
);

/** One row per accepted question: its lifecycle, result, usage and cost. */
export const queries = pgTable(
  'queries',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['queued', 'running', 'succeeded', 'failed'] }).notNull(),
    query: text('query').notNull(),
    idempotencyKey: text('idempotency_key'),
    requestId: text('request_id').notNull(),
    answer: text('answer'),
    // 'answered', or 'no_context' when the notes did not cover the question (no sources, no model).
    outcome: text('outcome', { enum: ['answered', 'no_context'] })
      .notNull()
      .default('answered'),
    sources: jsonb('sources').$type<Source[]>().notNull().default(sql`'[]'::jsonb`),
    model: text('model'),
    provider: text('provider'),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    // Integer micro-dollars: money is never a float.
    costMicros: bigint('cost_micros', { mode: 'number' }),
    cached: boolean('cached').notNull().default(false),
    truncated: boolean('truncated').notNull().default(false),
    // Which source answered and why earlier models were skipped (null: the first model did).
    fallback: jsonb('fallback').$type<FallbackInfo>(),
    errorCode: text('error_code').$type<ErrorCode>(),
    errorMessage: text('error_message'),
    attempts: integer('attempts').notNull().default(0),
    // The experiment and variant (or promoted default) the question was answered under.
    experimentId: text('experiment_id'),
    experimentVariant: text('experiment_variant'),
    // The answer's quality score in [0, 1] (written by the scoring step; null until it runs).
    qualityScore: real('quality_score'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('queries_user_idempotency_idx').on(t.userId, t.idempotencyKey),
    index('queries_user_created_idx').on(t.userId, t.createdAt),
    // The reconciler's scan of open queries, oldest first: only open rows are in it.
    index('queries_open_created_idx').on(t.createdAt).where(sql`${t.status} in ('queued', 'running')`),
    // An experiment's results read its queries only.
    index('queries_experiment_idx')
      .on(t.experimentId, t.experimentVariant)
      .where(sql`${t.experimentId} is not null`),
  ],
);

/** A thumbs up or down on a finished query, by its owner: one per query, editable. */
export const queryFeedback = pgTable(
  'query_feedback',
  {
    queryId: text('query_id')
      .primaryKey()
      .references(() => queries.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    rating: text('rating', { enum: ['up', 'down'] }).notNull(),
    comment: text('comment'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('query_feedback_updated_idx').on(t.updatedAt)],
);

/** An A/B test of prompts and models: variants with weights; only a running one assigns. */
export const experiments = pgTable(
  'experiments',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status').$type<ExperimentStatus>().notNull().default('draft'),
    // In order; the first is the control.
    variants: jsonb('variants').$type<ExperimentVariant[]>().notNull(),
    // The promoted variant, once promoted: it is then the default for everyone.
    winner: text('winner'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    stoppedAt: timestamp('stopped_at', { withTimezone: true }),
  },
  (t) => [
    // At most one experiment runs and one promoted winner is the default at a time.
    uniqueIndex('experiments_one_running_idx').on(t.status).where(sql`${t.status} = 'running'`),
    uniqueIndex('experiments_one_promoted_idx').on(t.status).where(sql`${t.status} = 'promoted'`),
  ],
);

/** A user's note. Every change bumps `version`; indexing catches `indexedVersion` up to it. */
export const notes = pgTable(
  'notes',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    body: text('body').notNull(),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    version: integer('version').notNull().default(1),
    indexStatus: text('index_status', { enum: ['pending', 'indexed', 'failed'] })
      .notNull()
      .default('pending'),
    indexError: text('index_error'),
    indexedVersion: integer('indexed_version'),
    // The client's own name for the note (an import's file path): a batch with it upserts.
    externalId: text('external_id'),
    // Millisecond precision, so the (created_at, id) cursor round-trips through a JS Date exactly.
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('notes_user_created_idx').on(t.userId, t.createdAt, t.id),
    uniqueIndex('notes_user_external_idx').on(t.userId, t.externalId).where(sql`${t.externalId} is not null`),
  ],
);

/** Retrieval units: a window of a note's text with its embedding and a full-text vector. */
export const noteChunks = pgTable(
  'note_chunks',
  {
    id: text('id').primaryKey(),
    noteId: text('note_id')
      .notNull()
      .references(() => notes.id, { onDelete: 'cascade' }),
    // Denormalised so retrieval reads one user's chunks without a join.
    userId: text('user_id').notNull(),
    noteVersion: integer('note_version').notNull(),
    position: integer('position').notNull(),
    title: text('title').notNull(),
    text: text('text').notNull(),
    startChar: integer('start_char').notNull(),
    endChar: integer('end_char').notNull(),
    tokenCount: integer('token_count').notNull(),
    embedding: bytea('embedding').notNull(),
    // Title weighs more than body text in lexical ranking.
    tsv: tsvector('tsv').generatedAlwaysAs(
      sql`setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', text), 'B')`,
    ),
  },
  (t) => [
    index('note_chunks_user_idx').on(t.userId),
    index('note_chunks_note_idx').on(t.noteId, t.position),
    index('note_chunks_tsv_idx').using('gin', t.tsv),
  ],
);

/** One row per answered query (cached or not): what it cost, at which prices. Written once. */
export const costLedger = pgTable(
  'cost_ledger',
  {
    queryId: text('query_id').primaryKey(),
    userId: text('user_id').notNull(),
    // UTC day the cost counts on (the day it was settled).
    day: date('day', { mode: 'string' }).notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    promptTokens: integer('prompt_tokens').notNull(),
    completionTokens: integer('completion_tokens').notNull(),
    inputNanosPerToken: integer('input_nanos_per_token').notNull(),
    outputNanosPerToken: integer('output_nanos_per_token').notNull(),
    costMicros: bigint('cost_micros', { mode: 'number' }).notNull(),
    cached: boolean('cached').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('cost_ledger_user_day_idx').on(t.userId, t.day)],
);

// A function: column builders must not be shared between tables.
const dailyTotals = () => ({
  queries: integer('queries').notNull().default(0),
  cacheHits: integer('cache_hits').notNull().default(0),
  promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
  completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
  costMicros: bigint('cost_micros', { mode: 'number' }).notNull().default(0),
});

/** Per user and UTC day: sums of the ledger, upserted in the same transaction as each row. */
export const userApiCosts = pgTable(
  'user_api_costs',
  { userId: text('user_id').notNull(), day: date('day', { mode: 'string' }).notNull(), ...dailyTotals() },
  (t) => [primaryKey({ columns: [t.userId, t.day] }), index('user_api_costs_day_idx').on(t.day)],
);

/** Per UTC day across all users. */
export const globalDailyCosts = pgTable('global_daily_costs', {
  day: date('day', { mode: 'string' }).primaryKey(),
  ...dailyTotals(),
});

export type UserRow = typeof users.$inferSelect;
export type NoteRow = typeof notes.$inferSelect;
export type NoteChunkRow = typeof noteChunks.$inferSelect;
export type QueryRow = typeof queries.$inferSelect;
export type FeedbackRow = typeof queryFeedback.$inferSelect;
export type ExperimentRow = typeof experiments.$inferSelect;
