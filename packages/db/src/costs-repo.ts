import { and, desc, eq, gte, lte, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { insertJsonRows } from './insert-json.ts';
import { preparedStatement, type Runner } from './prepared-statement.ts';
import { costLedger, globalDailyCosts, userApiCosts, users } from './schema.ts';

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
export type Writer = Pick<Database, 'insert' | 'execute'> & Runner;

/** The aggregates of a row with the upserted row's totals (`excluded`) added. */
function addedTotals(table: typeof userApiCosts | typeof globalDailyCosts) {
  return {
    queries: sql`${table.queries} + excluded.queries`,
    cacheHits: sql`${table.cacheHits} + excluded.cache_hits`,
    promptTokens: sql`${table.promptTokens} + excluded.prompt_tokens`,
    completionTokens: sql`${table.completionTokens} + excluded.completion_tokens`,
    costMicros: sql`${table.costMicros} + excluded.cost_micros`,
  };
}

/** A placeholder per name, typed as a value (an insert's `values` takes placeholders). */
function placeholders<K extends string>(names: readonly K[]): Record<K, never> {
  return Object.fromEntries(names.map((name) => [name, sql.placeholder(name)])) as Record<K, never>;
}

const TOTALS = ['queries', 'cacheHits', 'promptTokens', 'completionTokens', 'costMicros'] as const;
const ENTRY = [
  'queryId',
  'userId',
  'day',
  'provider',
  'model',
  'promptTokens',
  'completionTokens',
  'inputNanosPerToken',
  'outputNanosPerToken',
  'costMicros',
  'cached',
] as const;

// recordCost's three statements, prepared (built once, parsed once per connection).
const insertEntry = preparedStatement((db) =>
  (db as Database)
    .insert(costLedger)
    .values({
      ...placeholders(ENTRY),
      createdAt: sql`coalesce(${sql.placeholder('createdAt')}::timestamptz, now())`,
    })
    .onConflictDoNothing({ target: costLedger.queryId })
    .returning({ queryId: costLedger.queryId }),
);
const addToUser = preparedStatement((db) =>
  (db as Database)
    .insert(userApiCosts)
    .values(placeholders(['userId', 'day', ...TOTALS]))
    .onConflictDoUpdate({ target: [userApiCosts.userId, userApiCosts.day], set: addedTotals(userApiCosts) }),
);
const addToGlobal = preparedStatement((db) =>
  (db as Database)
    .insert(globalDailyCosts)
    .values(placeholders(['day', ...TOTALS]))
    .onConflictDoUpdate({ target: globalDailyCosts.day, set: addedTotals(globalDailyCosts) }),
);

/**
 * Records a query's cost exactly once, inside the caller's transaction (the one that stores the
 * query's row, so the row and its ledger entry land together or not at all): the ledger row is
 * unique by query id, and the daily aggregates move only when the row is new, so a replay after a
 * crash changes nothing. Returns whether this call recorded it.
 *
 * Three statements in a fixed order — the user's aggregate row, then the global one (the hot row
 * every answer updates, so its lock is held the shortest) — as in {@link forgetCost}: every
 * transaction takes the two row locks in the same order, so two can never deadlock. (One
 * statement with data-modifying CTEs saves two round trips, but Postgres runs the CTEs in no set
 * order, and the submit-refusal test saw "deadlock detected" under load.) Each is a prepared
 * statement: every answer and every stored cache hit runs them. `tx` must be a transaction: the
 * two aggregate upserts are sent together and rely on its one connection running them in order.
 */
export async function recordCost(tx: Writer, entry: CostEntry): Promise<boolean> {
  const inserted = await insertEntry(tx, {
    ...entry,
    createdAt: entry.createdAt?.toISOString() ?? null,
  });
  if (inserted.length === 0) return false;
  const t = totals(entry);
  // Pipelined (one round trip): Postgres runs the two in order on the transaction's connection,
  // so the user's row is still locked before the global one.
  await Promise.all([
    addToUser(tx, { userId: entry.userId, day: entry.day, ...t }),
    addToGlobal(tx, { day: entry.day, ...t }),
  ]);
  return true;
}

/**
 * {@link recordCost} for many queries in one transaction (the served cache hits' writer): the
 * ledger rows in one statement, then one upsert per (user, day) in user-id order, then one per
 * day for the global row. Row locks are taken users first, in id order, global last, as every
 * single-entry transaction takes them, so a batch and those never deadlock. Only entries whose
 * ledger row is new move the aggregates. Returns how many were recorded.
 */
export async function recordCosts(tx: Writer, entries: readonly CostEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  // One statement and one parameter for the whole batch (the served-hits writer's are hundreds).
  const fresh = new Set(await insertJsonRows(tx, costLedger, entries, 'queryId'));
  const recorded = entries.filter((e) => fresh.has(e.queryId));
  if (recorded.length === 0) return 0;
  type Totals = ReturnType<typeof totals>;
  const add = (into: Totals, entry: CostEntry) => {
    const t = totals(entry);
    for (const key of Object.keys(t) as (keyof Totals)[]) into[key] += t[key];
  };
  const zero = (): Totals => ({
    queries: 0,
    cacheHits: 0,
    promptTokens: 0,
    completionTokens: 0,
    costMicros: 0,
  });
  const byUserDay = new Map<string, { userId: string; day: string } & Totals>();
  const byDay = new Map<string, Totals>();
  for (const entry of recorded) {
    const key = `${entry.userId}\u0000${entry.day}`;
    const own = byUserDay.get(key) ?? { userId: entry.userId, day: entry.day, ...zero() };
    add(own, entry);
    byUserDay.set(key, own);
    const all = byDay.get(entry.day) ?? zero();
    add(all, entry);
    byDay.set(entry.day, all);
  }
  const users = [...byUserDay.values()].sort((a, b) =>
    a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.day < b.day ? -1 : a.day > b.day ? 1 : 0,
  );
  for (const row of users) {
    await tx
      .insert(userApiCosts)
      .values(row)
      .onConflictDoUpdate({
        target: [userApiCosts.userId, userApiCosts.day],
        set: addedTotals(userApiCosts),
      });
  }
  for (const day of [...byDay.keys()].sort()) {
    await tx
      .insert(globalDailyCosts)
      .values({ day, ...byDay.get(day)! })
      .onConflictDoUpdate({ target: globalDailyCosts.day, set: addedTotals(globalDailyCosts) });
  }
  return recorded.length;
}

/**
 * Takes back a query's ledger entry and its share of the aggregates, inside the caller's
 * transaction (a query withdrawn after its row and entry were written: nobody received it). The
 * user's row first, then the global one, as in {@link recordCost}.
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

    /**
     * How many users' spend on `day` reached their daily budget: an admin override of
     * `dailyBudgetMicros`, else their tier's (`tierBudgets`, micro-dollars). Read by the
     * `assistant_users_over_daily_budget` gauge; one index range of the day's aggregates.
     */
    async usersAtDailyBudget(day: string, tierBudgets: Record<string, number>): Promise<number> {
      const tierBudget = sql.join(
        [
          sql`case ${users.tier}`,
          ...Object.entries(tierBudgets).map(([tier, micros]) => sql`when ${tier} then ${micros}::bigint`),
          sql`end`,
        ],
        sql` `,
      );
      const budget = sql`coalesce((${users.limitsOverride}->>'dailyBudgetMicros')::bigint, ${tierBudget})`;
      const rows = await db
        .select({ n: sql<number>`count(*)::int`.mapWith(Number) })
        .from(userApiCosts)
        .innerJoin(users, eq(users.id, userApiCosts.userId))
        .where(
          and(
            eq(userApiCosts.day, day),
            sql`${userApiCosts.costMicros} > 0`,
            sql`${userApiCosts.costMicros} >= ${budget}`,
          ),
        );
      return rows[0]?.n ?? 0;
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
