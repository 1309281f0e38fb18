// Budget reservations: before generation a worker reserves the worst-case cost, after it settles
// the actual cost. All amounts are integer micro-dollars; "today" is the UTC day of Redis's clock.
//
// Unsettled reservations (the worker died between reserve and settle) must not hold budget
// forever. Each reservation carries an expiry (`reservationTtlMs`) in a ZSET index; reserve,
// settle, spent and admission all ignore expired ones, and reserve, settle and spent delete them.
// Expiry rather than a sweeper job: nothing has to run for the budget to heal, and the ZSET makes
// finding the expired ones O(log n). A worker that outlives its reservation still settles
// correctly: settle records the actual cost with or without a reservation.
import { type Keys, loadLua, type RedisClient } from '@assistant/queue';
import { assertCount, timeArg } from './script-args.ts';

const reserveScript = loadLua(new URL('./lua/reserve.lua', import.meta.url));
const settleScript = loadLua(new URL('./lua/settle.lua', import.meta.url));
const spentScript = loadLua(new URL('./lua/budget-spent.lua', import.meta.url));

/** Budget keys outlive a day of silence (spent counts for its UTC day; older days roll over). */
const BUDGET_TTL_SECONDS = 2 * 86_400;
const DAY_MS = 86_400_000;

/** One worst-case cost to hold before generation. */
export type ReserveInput = {
  userId: string;
  queryId: string;
  /** Worst-case cost: prompt tokens + `max_tokens` at the model's price, micro-dollars. */
  amountMicros: number;
  /** The user's daily budget (from the tier), micro-dollars. */
  userBudgetMicros: number;
  /** The global daily budget, micro-dollars. */
  globalBudgetMicros: number;
};

/** The outcome of a reservation. */
export type ReserveResult =
  | {
      ok: true;
      /**
       * The query was already settled: nothing was reserved, and settling it again is a no-op,
       * so its cost was counted once already.
       */
      alreadySettled: boolean;
    }
  | {
      ok: false;
      /** The budget that refused (the user's is checked first). */
      scope: 'user' | 'global';
      /** What that budget has left today: budget − spent − reserved, at least 0. */
      remainingMicros: number;
    };

/** One actual cost to record. */
export type SettleInput = { userId: string; queryId: string; actualMicros: number };

/** The outcome of a settlement. */
export type SettleResult = {
  /** `false` when an earlier settle of this query already counted it (nothing changed). */
  settled: boolean;
  /** What the query had reserved and this settle freed, micro-dollars (0 when none). */
  reservedMicros: number;
};

/** Today's money of a user and of the service. */
export type BudgetSpent = {
  /** The UTC day these figures belong to, `YYYY-MM-DD`. */
  day: string;
  userMicros: number;
  userReservedMicros: number;
  globalMicros: number;
  globalReservedMicros: number;
};

/** Options of {@link createBudget}. */
export type BudgetOptions = {
  /**
   * How long a reservation holds budget unless settled: after it, a dead worker's reservation
   * stops counting. Keep it above the longest generation. @defaultValue 600000
   */
  reservationTtlMs?: number;
  /**
   * How long a settled query is remembered, so a retried settle does not count twice. Keep it
   * above the settle job's whole retry span. @defaultValue 172800
   */
  settledTtlSeconds?: number;
  /** Test hook: the time the scripts use instead of Redis `TIME`. Leave unset in production. */
  now?: () => number;
};

function scopeKeys(keys: Keys, userId: string): string[] {
  return [
    keys.limitsUserBudget(userId),
    keys.limitsUserReservations(userId),
    keys.limitsGlobalBudget(),
    keys.limitsGlobalReservations(),
  ];
}

/**
 * Daily budgets per user and globally, with reservations: `reserve` holds a worst-case cost only
 * if it fits both budgets (atomically, idempotent per query id), `settle` turns it into the
 * actual cost once per query id. Also serves as plain spend recording: `settle` without a
 * reservation just records the actual cost.
 *
 * @example
 * const budget = createBudget(redis, keys);
 * const held = await budget.reserve({ userId, queryId, amountMicros: worstCase,
 *   userBudgetMicros: tier.dailyBudgetMicros, globalBudgetMicros: config.limits.global.dailyBudgetMicros });
 * if (!held.ok) throw new UnrecoverableError('budget_exceeded');
 * const answer = await llm.generate(…);
 * await budget.settle({ userId, queryId, actualMicros: answer.costMicros });
 */
export function createBudget(redis: RedisClient, keys: Keys, options: BudgetOptions = {}) {
  const reservationTtlMs = options.reservationTtlMs ?? 600_000;
  const settledTtlMs = (options.settledTtlSeconds ?? 172_800) * 1000;
  assertCount('reservationTtlMs', reservationTtlMs);
  assertCount('settledTtlMs', settledTtlMs);

  return {
    /** Holds `amountMicros` against the user's and the global budget of today, or says which refused. */
    async reserve(input: ReserveInput): Promise<ReserveResult> {
      assertCount('amountMicros', input.amountMicros);
      assertCount('userBudgetMicros', input.userBudgetMicros);
      assertCount('globalBudgetMicros', input.globalBudgetMicros);
      const raw = (await reserveScript.run(
        redis,
        [...scopeKeys(keys, input.userId), keys.limitsSettled(input.queryId)],
        [
          input.queryId,
          input.amountMicros,
          input.userBudgetMicros,
          input.globalBudgetMicros,
          reservationTtlMs,
          BUDGET_TTL_SECONDS,
          timeArg(options.now),
        ],
      )) as number[];
      const [ok, detail, remaining] = raw.map(Number);
      if (ok === 1) return { ok: true, alreadySettled: detail === 2 };
      return { ok: false, scope: detail === 2 ? 'global' : 'user', remainingMicros: remaining ?? 0 };
    },

    /**
     * Records the actual cost as spent today and frees the query's reservation, if any. Counts at
     * most once per query id: `settled: false` means an earlier settle already counted it.
     */
    async settle(input: SettleInput): Promise<SettleResult> {
      assertCount('actualMicros', input.actualMicros);
      const raw = (await settleScript.run(
        redis,
        [...scopeKeys(keys, input.userId), keys.limitsSettled(input.queryId)],
        [input.queryId, input.actualMicros, BUDGET_TTL_SECONDS, settledTtlMs, timeArg(options.now)],
      )) as number[];
      return { settled: Number(raw[0]) === 1, reservedMicros: Number(raw[1] ?? 0) };
    },

    /** Today's spent and reserved micro-dollars of a user and globally (expired reservations excluded). */
    async spent(userId: string): Promise<BudgetSpent> {
      const raw = (await spentScript.run(redis, scopeKeys(keys, userId), [
        BUDGET_TTL_SECONDS,
        timeArg(options.now),
      ])) as number[];
      const [day, userMicros, userReservedMicros, globalMicros, globalReservedMicros] = raw.map(Number);
      return {
        day: new Date((day ?? 0) * DAY_MS).toISOString().slice(0, 10),
        userMicros: userMicros ?? 0,
        userReservedMicros: userReservedMicros ?? 0,
        globalMicros: globalMicros ?? 0,
        globalReservedMicros: globalReservedMicros ?? 0,
      };
    },
  };
}

/** The budget's interface. */
export type Budget = ReturnType<typeof createBudget>;
