import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** A person with notes; `tier` selects a row of limits in config. */
export const users = pgTable('users', {
  id: text('id').primaryKey(),
  tier: text('tier', { enum: ['free', 'premium', 'internal'] }).notNull(),
  email: text('email'),
  // Bumped on every note change; part of every answer-cache key (kept in Redis too).
  notesGeneration: bigint('notes_generation', { mode: 'number' }).notNull().default(0),
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
    sources: jsonb('sources').$type<unknown[]>().notNull().default(sql`'[]'::jsonb`),
    model: text('model'),
    provider: text('provider'),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    // Integer micro-dollars: money is never a float.
    costMicros: bigint('cost_micros', { mode: 'number' }),
    cached: boolean('cached').notNull().default(false),
    truncated: boolean('truncated').notNull().default(false),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('queries_user_idempotency_idx').on(t.userId, t.idempotencyKey),
    index('queries_user_created_idx').on(t.userId, t.createdAt),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type QueryRow = typeof queries.$inferSelect;
