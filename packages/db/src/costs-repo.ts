import { and, desc, eq, gte, lte, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { costLedger, globalDailyCosts, userApiCosts } from './schema.ts';

/** One ledger entry: a query's tokens, the prices used and the cost in micro-dollars. */
export type CostEntry = typeof costLedger.$inferInsert & { day: string };

/** A day of totals. */
export type DailyUsage = {
  day: string;
  queries: number;
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
};

function totals(entry: CostEntry) {
  return {
    queries: 1,
    cacheHits: entry.cached ? 1 : 0,
    promptTokens: entry.promptTokens,
    completionTokens: entry.completionTokens,
    costMicros: entry.costMicros,
  };
}

/** The aggregates of a row with `entry`'s totals taken out again. */
function withoutTotals(table: typeof userApiCosts | typeof globalDailyCosts, entry: CostEntry) {
  const t = totals(entry);
  return {
    queries: sql`${table.queries} - ${t.queries}`,
    cacheHits: sql`${table.cacheHits} - ${t.cacheHits}`,
    promptTokens: sql`${table.promptTokens} - ${t.promptTokens}`,
    completionTokens: sql`${table.completionTokens} - ${t.completionTokens}`,
    costMicros: sql`${table.costMicros} - ${t.costMicros}`,
  };
}

/** A transaction (or the database) to write in. */
export type Writer = Pick<Database, 'execute'>;

/**
 * Records a query's cost exactly once, inside the caller's transaction (the one that stores the
 * query's row, so the row and its ledger entry land together or not at all), in one statement:
 * the ledger row is unique by query id, and the daily aggregates move only with a new ledger row
 * (they read the insert's RETURNING), so a replay after a crash changes nothing. Returns whether
 * this call recorded it.
 */
export async function recordCost(tx: Writer, entry: CostEntry): Promise<boolean> {
  const t = totals(entry);
  const sums = sql`${t.queries}::int, ${t.cacheHits}::int, ${t.promptTokens}::bigint, ${t.completionTokens}::bigint, ${t.costMicros}::bigint`;
  const add = (table: string) =>
    sql.raw(
      ['queries', 'cache_hits', 'prompt_tokens', 'completion_tokens', 'cost_micros']
        .map((column) => `${column} = ${table}.${column} + excluded.${column}`)
        .join(', '),
    );
  const rows = await tx.execute<{ recorded: number }>(sql`
    with entry as (
      insert into ${costLedger} (query_id, user_id, day, provider, model, prompt_tokens,
        completion_tokens, input_nanos_per_token, output_nanos_per_token, cost_micros, cached)
      values (${entry.queryId}, ${entry.userId}, ${entry.day}, ${entry.provider}, ${entry.model},
        ${entry.promptTokens}, ${entry.completionTokens}, ${entry.inputNanosPerToken},
        ${entry.outputNanosPerToken}, ${entry.costMicros}, ${entry.cached ?? false})
      on conflict (query_id) do nothing
      returning user_id, day
    ), by_user as (
      insert into ${userApiCosts} (user_id, day, queries, cache_hits, prompt_tokens, completion_tokens, cost_micros)
      select user_id, day, ${sums} from entry
      on conflict (user_id, day) do update set ${add('user_api_costs')}
    ), overall as (
      insert into ${globalDailyCosts} (day, queries, cache_hits, prompt_tokens, completion_tokens, cost_micros)
      select day, ${sums} from entry
      on conflict (day) do update set ${add('global_daily_costs')}
    )
    select count(*)::int as recorded from entry`);
  return (rows[0]?.recorded ?? 0) > 0;
}

/**
 * Takes back a query's ledger entry and its share of the aggregates, inside the caller's
 * transaction (a query withdrawn after its row and entry were written: nobody received it).
 */
export async function forgetCost(tx: Pick<Database, 'delete' | 'update'>, queryId: string): Promise<void> {
  const [entry] = await tx.delete(costLedger).where(eq(costLedger.queryId, queryId)).returning();
  if (!entry) return;
  await tx
    .update(userApiCosts)
    .set(withoutTotals(userApiCosts, entry))
    .where(and(eq(userApiCosts.userId, entry.userId), eq(userApiCosts.day, entry.day)));
  await tx
    .update(globalDailyCosts)
    .set(withoutTotals(globalDailyCosts, entry))
    .where(eq(globalDailyCosts.day, entry.day));
}

/** The cost ledger and its daily aggregates. */
export function createCostsRepo(db: Database) {
  return {
    /** {@link recordCost} in a transaction of its own (for a row stored earlier without its entry). */
    async record(entry: CostEntry): Promise<boolean> {
      return db.transaction((tx) => recordCost(tx, entry));
    },

    /** A user's totals per day in [from, to] (ISO dates), oldest first. */
    async userUsage(userId: string, from: string, to: string): Promise<DailyUsage[]> {
      return db
        .select({
          day: userApiCosts.day,
          queries: userApiCosts.queries,
          cacheHits: userApiCosts.cacheHits,
          promptTokens: userApiCosts.promptTokens,
          completionTokens: userApiCosts.completionTokens,
          costMicros: userApiCosts.costMicros,
        })
        .from(userApiCosts)
        .where(and(eq(userApiCosts.userId, userId), gte(userApiCosts.day, from), lte(userApiCosts.day, to)))
        .orderBy(userApiCosts.day);
    },

    /** Global totals per day in [from, to]. */
    async globalUsage(from: string, to: string): Promise<DailyUsage[]> {
      return db
        .select()
        .from(globalDailyCosts)
        .where(and(gte(globalDailyCosts.day, from), lte(globalDailyCosts.day, to)))
        .orderBy(globalDailyCosts.day);
    },

    /** The users who spent most in [from, to]. */
    async topUsers(from: string, to: string, limit: number) {
      const cost = sql<number>`sum(${userApiCosts.costMicros})::bigint`.mapWith(Number);
      return db
        .select({
          userId: userApiCosts.userId,
          queries: sql<number>`sum(${userApiCosts.queries})::int`.mapWith(Number),
          cacheHits: sql<number>`sum(${userApiCosts.cacheHits})::int`.mapWith(Number),
          costMicros: cost,
        })
        .from(userApiCosts)
        .where(and(gte(userApiCosts.day, from), lte(userApiCosts.day, to)))
        .groupBy(userApiCosts.userId)
        .orderBy(desc(cost))
        .limit(limit);
    },

    /** A query's ledger entry, if it has one. */
    async entryOf(queryId: string) {
      const rows = await db.select().from(costLedger).where(eq(costLedger.queryId, queryId)).limit(1);
      return rows[0];
    },

    /** A query's ledger entry removed with its share of the aggregates (see {@link forgetCost}). */
    async forget(queryId: string): Promise<void> {
      await db.transaction((tx) => forgetCost(tx, queryId));
    },

    /** Ledger sum of a user for a day (for reconciliation against Redis counters). */
    async ledgerTotal(userId: string, day: string): Promise<{ rows: number; costMicros: number }> {
      const rows = await db
        .select({
          rows: sql<number>`count(*)::int`.mapWith(Number),
          costMicros: sql<number>`coalesce(sum(${costLedger.costMicros}), 0)::bigint`.mapWith(Number),
        })
        .from(costLedger)
        .where(and(eq(costLedger.userId, userId), eq(costLedger.day, day)));
      return rows[0] ?? { rows: 0, costMicros: 0 };
    },
  };
}

/** The costs repository's interface. */
export type CostsRepo = ReturnType<typeof createCostsRepo>;
