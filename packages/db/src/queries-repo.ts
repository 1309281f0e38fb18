import type {
  AnswerOutcome,
  AnswerQuality,
  EscalationInfo,
  FallbackInfo,
  QueryError,
  Source,
} from '@assistant/contracts';
import { and, asc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { type CostEntry, forgetCost, recordCost, recordCosts } from './costs-repo.ts';
import { insertJsonRows } from './insert-json.ts';
import { placeholder, preparedStatement, rowsOf } from './prepared-statement.ts';
import { type QueryRow, queries, users } from './schema.ts';

/** Fields stored when a query finishes with an answer. */
export type QuerySuccess = {
  answer: string;
  outcome: AnswerOutcome;
  sources: Source[];
  model: string;
  provider: string;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
  truncated: boolean;
  /** Served from a cache (exact or semantic) rather than generated. */
  cached?: boolean;
  /** How the answer was reached, when a fallback was involved. */
  fallback?: FallbackInfo | null;
  /** The quality score (`quality.score`, a column of its own for aggregates) and its parts. */
  qualityScore?: number | null;
  quality?: AnswerQuality | null;
  /** The first attempt of an escalated answer. */
  escalation?: EscalationInfo | null;
  /** The routing class (`simple`, `complex`, `no_context`); null when the question was not routed. */
  queryClass?: string | null;
};

/** The ledger entry of a row about to be stored (`ledgerEntryOf` with the answer's prices). */
export type LedgerOf = (row: QueryRow) => CostEntry;

const OPEN = sql`${queries.status} in ('queued', 'running')`;
const queryRows = rowsOf(queries);

/** The columns {@link QuerySuccess} sets, every one of them: what the prepared `markSucceeded` fills. */
const SUCCESS_FIELDS = [
  'answer',
  'outcome',
  'sources',
  'model',
  'provider',
  'promptTokens',
  'completionTokens',
  'costMicros',
  'truncated',
  'cached',
  'fallback',
  'qualityScore',
  'quality',
  'escalation',
  'queryClass',
] as const satisfies readonly (keyof QuerySuccess)[];

// The statements every generated answer runs, prepared (built once, parsed once per connection):
// the API's insert and reads of the row, the worker's claim and store.
const insertQueuedStatement = preparedStatement((db) =>
  (db as Database)
    .insert(queries)
    .values({
      id: sql.placeholder('id'),
      userId: sql.placeholder('userId'),
      status: 'queued',
      query: sql.placeholder('query'),
      requestId: sql.placeholder('requestId'),
      idempotencyKey: sql.placeholder('idempotencyKey'),
      experimentId: sql.placeholder('experimentId'),
      experimentVariant: sql.placeholder('experimentVariant'),
    })
    .onConflictDoNothing({ target: [queries.userId, queries.idempotencyKey] })
    .returning(),
);
const findStatement = preparedStatement((db) =>
  (db as Database)
    .select()
    .from(queries)
    .where(eq(queries.id, sql.placeholder('id')))
    .limit(1),
);
const findOwnedStatement = preparedStatement((db) =>
  (db as Database)
    .select()
    .from(queries)
    .where(and(eq(queries.id, sql.placeholder('id')), eq(queries.userId, sql.placeholder('userId'))))
    .limit(1),
);
const markRunningStatement = preparedStatement((db) =>
  (db as Database)
    .update(queries)
    .set({
      status: 'running',
      attempts: placeholder('attempt'),
      startedAt: sql`coalesce(${queries.startedAt}, now())`,
    })
    .where(and(eq(queries.id, sql.placeholder('id')), eq(queries.userId, sql.placeholder('userId')), OPEN))
    .returning(),
);
const markSucceededStatement = preparedStatement((db) =>
  (db as Database)
    .update(queries)
    .set({
      status: 'succeeded',
      ...Object.fromEntries(SUCCESS_FIELDS.map((field) => [field, placeholder(field)])),
      finishedAt: sql`now()`,
    })
    .where(and(eq(queries.id, sql.placeholder('id')), OPEN))
    .returning(),
);

/** A query answered from the cache, before it is stored: what {@link servedRowOf} reads. */
export type ServedQuery = {
  id: string;
  userId: string;
  query: string;
  requestId: string;
  result: QuerySuccess;
  experiment?: { id: string; variant: string };
};

/**
 * The row of a cache hit served ahead of Postgres (write-behind), exactly as `insertCached`
 * would store it, born finished at `at`.
 */
export function servedRowOf(input: ServedQuery, at: Date): QueryRow {
  return {
    id: input.id,
    userId: input.userId,
    status: 'succeeded',
    query: input.query,
    idempotencyKey: null,
    requestId: input.requestId,
    errorCode: null,
    errorMessage: null,
    attempts: 0,
    qualityScore: null,
    quality: null,
    queryClass: null,
    escalation: null,
    fallback: null,
    ...input.result,
    cached: true,
    experimentId: input.experiment?.id ?? null,
    experimentVariant: input.experiment?.variant ?? null,
    createdAt: at,
    startedAt: at,
    finishedAt: at,
  };
}

/** A row as JSON text (the served-hits log's), and back: its times travel as ISO strings. */
export const servedRowCodec = {
  encode: (row: QueryRow): string => JSON.stringify(row),
  decode(text: string): QueryRow {
    const row = JSON.parse(text) as QueryRow &
      Record<'createdAt' | 'startedAt' | 'finishedAt', string | null>;
    return {
      ...row,
      createdAt: new Date(row.createdAt as string),
      startedAt: row.startedAt === null ? null : new Date(row.startedAt),
      finishedAt: row.finishedAt === null ? null : new Date(row.finishedAt),
    };
  },
};

/** Lifecycle of the `queries` rows. Every write is conditional, so replays cannot go backwards. */
export function createQueriesRepo(db: Database) {
  return {
    /**
     * Inserts a queued query. With an idempotency key already used by this user, inserts nothing
     * and returns the existing row with `created: false`.
     */
    async insertQueued(input: {
      id: string;
      userId: string;
      query: string;
      requestId: string;
      idempotencyKey?: string;
      /** The experiment variant the question is answered under. */
      experiment?: { id: string; variant: string };
    }): Promise<{ row: QueryRow; created: boolean }> {
      const inserted = queryRows(
        await insertQueuedStatement(db, {
          id: input.id,
          userId: input.userId,
          query: input.query,
          requestId: input.requestId,
          idempotencyKey: input.idempotencyKey ?? null,
          experimentId: input.experiment?.id ?? null,
          experimentVariant: input.experiment?.variant ?? null,
        }),
      );
      if (inserted[0]) return { row: inserted[0], created: true };
      const existing = await db
        .select()
        .from(queries)
        .where(and(eq(queries.userId, input.userId), eq(queries.idempotencyKey, input.idempotencyKey ?? '')))
        .limit(1);
      if (!existing[0]) throw new Error('idempotent insert found neither a new nor an existing row');
      return { row: existing[0], created: false };
    },

    /** The query this user submitted with an idempotency key, if any. */
    async findByIdempotencyKey(userId: string, key: string): Promise<QueryRow | undefined> {
      const rows = await db
        .select()
        .from(queries)
        .where(and(eq(queries.userId, userId), eq(queries.idempotencyKey, key)))
        .limit(1);
      return rows[0];
    },

    /** Stores a query answered from the cache, born finished, with its ledger entry in the same transaction. */
    async insertCached(
      input: {
        id: string;
        userId: string;
        query: string;
        requestId: string;
        idempotencyKey?: string;
        result: QuerySuccess;
        experiment?: { id: string; variant: string };
      },
      ledger: LedgerOf,
    ): Promise<QueryRow> {
      const now = sql`now()`;
      return db.transaction(async (tx) => {
        // The row and its zero-cost ledger entry record an answer already served: skipping the
        // WAL flush halves a cache hit's latency, at the risk of losing the last few such rows
        // in a Postgres crash (never a charge: a hit spends no budget).
        await tx.execute(sql`set local synchronous_commit to off`);
        const rows = await tx
          .insert(queries)
          .values({
            id: input.id,
            userId: input.userId,
            status: 'succeeded',
            query: input.query,
            requestId: input.requestId,
            idempotencyKey: input.idempotencyKey ?? null,
            ...input.result,
            experimentId: input.experiment?.id ?? null,
            experimentVariant: input.experiment?.variant ?? null,
            cached: true,
            startedAt: now,
            finishedAt: now,
          })
          .returning();
        await recordCost(tx, ledger(rows[0]!));
        return rows[0]!;
      });
    },

    /**
     * Stores served cache hits (rows from {@link servedRowOf}) with their ledger entries, in one
     * transaction; a row already stored is skipped (a log entry read twice), and so is a row of
     * a user deleted meanwhile (their hits go with them). Returns how many rows were new.
     */
    async insertServed(rows: readonly QueryRow[], ledger: LedgerOf): Promise<number> {
      if (rows.length === 0) return 0;
      return db.transaction(async (tx) => {
        // As insertCached: answers already served, never a charge; no WAL flush wait.
        await tx.execute(sql`set local synchronous_commit to off`);
        const owners = [...new Set(rows.map((r) => r.userId))];
        const alive = new Set(
          (await tx.select({ id: users.id }).from(users).where(inArray(users.id, owners))).map((u) => u.id),
        );
        const kept = rows.filter((r) => alive.has(r.userId));
        if (kept.length === 0) return 0;
        // One statement and one parameter for the batch: drizzle's builder costs more CPU than
        // the insert for hundreds of wide rows. A row stored before (a batch read again) is skipped.
        const fresh = new Set(await insertJsonRows(tx, queries, kept, 'id'));
        const inserted = kept.filter((row) => fresh.has(row.id));
        await recordCosts(tx, inserted.map(ledger));
        return inserted.length;
      });
    },

    /** A query of this user, or `undefined` (unknown and foreign ids look the same). */
    async findOwned(id: string, userId: string): Promise<QueryRow | undefined> {
      return queryRows(await findOwnedStatement(db, { id, userId }))[0];
    },

    /** Queries still `queued` or `running` that were created before `cutoff`, oldest first. */
    async findOpenCreatedBefore(cutoff: Date, limit: number): Promise<QueryRow[]> {
      return db
        .select()
        .from(queries)
        .where(and(sql`${queries.status} in ('queued', 'running')`, lt(queries.createdAt, cutoff)))
        .orderBy(asc(queries.createdAt))
        .limit(limit);
    },

    /** Any query by id (the worker's view). */
    async find(id: string): Promise<QueryRow | undefined> {
      return queryRows(await findStatement(db, { id }))[0];
    },

    /**
     * Removes a query that was not accepted (its enqueue failed, or a cached answer landed after the
     * deadline refused it), with its ledger entry if any, so a retry with the same idempotency key
     * starts clean.
     */
    async remove(id: string): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.delete(queries).where(eq(queries.id, id));
        await forgetCost(tx, id);
      });
    },

    /**
     * Marks an attempt of this user's open query started and returns the row, in one statement;
     * `undefined` when the query is finished, unknown or another user's (then nothing changes).
     */
    async markRunning(id: string, userId: string, attempt: number): Promise<QueryRow | undefined> {
      return queryRows(await markRunningStatement(db, { id, userId, attempt }))[0];
    },

    /**
     * Stores the answer and, in the same transaction, its ledger entry (so the row and what it
     * was charged land together or not at all); returns the row, or `undefined` if it had already
     * finished (a replayed job), when nothing is written.
     */
    async markSucceeded(id: string, result: QuerySuccess, ledger: LedgerOf): Promise<QueryRow | undefined> {
      return db.transaction(async (tx) => {
        // Every answer column given (as `rowOfAnswer` gives them): the prepared statement. A
        // result that leaves some out keeps those columns as they are, which only a built one does.
        const row = SUCCESS_FIELDS.every((field) => result[field] !== undefined)
          ? queryRows(await markSucceededStatement(tx, { id, ...result }))[0]
          : (
              await tx
                .update(queries)
                .set({ status: 'succeeded', ...result, finishedAt: sql`now()` })
                .where(and(eq(queries.id, id), OPEN))
                .returning()
            )[0];
        if (row) await recordCost(tx, ledger(row));
        return row;
      });
    },

    /** Stores a terminal error; returns false if the query had already finished. */
    async markFailed(id: string, error: QueryError): Promise<boolean> {
      const rows = await db
        .update(queries)
        .set({ status: 'failed', errorCode: error.code, errorMessage: error.message, finishedAt: sql`now()` })
        .where(and(eq(queries.id, id), sql`${queries.status} in ('queued', 'running')`))
        .returning({ id: queries.id });
      return rows.length > 0;
    },
  };
}

/** The queries repository's interface. */
export type QueriesRepo = ReturnType<typeof createQueriesRepo>;
