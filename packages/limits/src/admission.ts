// Admission control: one Lua call per request checks and counts every limit atomically, on Redis's
// clock, so any number of API replicas agree. The window algorithm (sliding windows over 60
// sub-buckets, counted conservatively) and why it beats a log, a weighted counter or GCRA here is
// set out in the header of lua/admit.lua.
import type { Config, TierLimits } from '@assistant/config';
import { type Keys, loadLua, type RedisClient } from '@assistant/queue';
import {
  closestToExhaustion,
  formatRateLimit,
  formatRateLimitPolicy,
  type RateLimitHeaders,
  type ServiceLimit,
} from './rate-limit-headers.ts';
import { assertCount, timeArg } from './script-args.ts';

const admitScript = loadLua(new URL('./lua/admit.lua', import.meta.url));

/** The error `code` of a refusal, as the API reports it. */
export type AdmissionCode = 'rate_limited' | 'too_many_in_flight' | 'budget_exceeded';

/** The limit that refused a request. */
export type AdmissionLimit =
  | 'user_minute'
  | 'user_hour'
  | 'user_day'
  | 'global_hour'
  | 'in_flight'
  | 'user_budget'
  | 'global_budget';

/** The global limits admission checks: a slice of `config.limits.global`. */
export type GlobalAdmissionLimits = Pick<Config['limits']['global'], 'perHour' | 'dailyBudgetMicros'>;

/** One request to admit. */
export type AdmitInput = {
  userId: string;
  /** Joins the user's in-flight set under this id; `release(userId, queryId)` leaves it. */
  queryId: string;
  /** The user's tier row (or an admin override of it). */
  limits: TierLimits;
  global: GlobalAdmissionLimits;
  /**
   * Check the in-flight cap and hold a slot until release. `false` for a cache hit, which holds
   * nothing while it is answered. @defaultValue true
   */
  inFlight?: boolean;
  /** Refuse when today's budget is used up. `false` for a cache hit, which costs nothing. @defaultValue true */
  budget?: boolean;
  /**
   * Recorded in the same call only if admitted: an entry (`id` = `queryId`, `row` = `value`) in
   * the `log` stream and a readable copy at `copy` for `ttlMs` (a served cache hit, see
   * `ServedHits.recordOf`). Both keys must share the limits keys' `{limits}` slot.
   */
  record?: AdmissionRecord;
};

/** What an admitted request leaves behind in the same script call (see {@link AdmitInput.record}). */
export type AdmissionRecord = { log: string; copy: string; value: string; ttlMs: number };

/** The decision on one request, with the RateLimit headers to send either way. */
export type AdmissionResult =
  | { allowed: true; headers: RateLimitHeaders }
  | {
      allowed: false;
      code: AdmissionCode;
      limit: AdmissionLimit;
      /** Seconds until the refusing limit frees (also in `headers['Retry-After']`). */
      retryAfterSeconds: number;
      headers: RateLimitHeaders;
    };

/** What is left of one limit now. */
export type LimitState = { limit: number; remaining: number; resetSeconds?: number };

/** What is left of every request limit of a user now (for a usage endpoint). */
export type AdmissionState = {
  user_minute: LimitState;
  user_hour: LimitState;
  user_day: LimitState;
  global_hour: LimitState;
  in_flight?: LimitState;
};

/** Options of {@link createAdmission}. */
export type AdmissionOptions = {
  /**
   * How long a query holds its in-flight slot without a release: a lost release (a crashed
   * worker, a dropped job) frees the slot after this. Keep it above queue wait + run time.
   * @defaultValue 600000
   */
  inFlightTtlMs?: number;
  /**
   * Retry-After, in seconds, when only a release can free the limit (the in-flight cap, or a
   * budget held by open reservations rather than spent). @defaultValue 5
   */
  releaseRetrySeconds?: number;
  /** Test hook: the time the script uses instead of Redis `TIME`. Leave unset in production. */
  now?: () => number;
};

const WINDOWS = [
  { limit: 'user_minute', policy: 'minute', seconds: 60, quota: (i: AdmitInput) => i.limits.perMinute },
  { limit: 'user_hour', policy: 'hour', seconds: 3_600, quota: (i: AdmitInput) => i.limits.perHour },
  { limit: 'user_day', policy: 'day', seconds: 86_400, quota: (i: AdmitInput) => i.limits.perDay },
  { limit: 'global_hour', policy: 'global-hour', seconds: 3_600, quota: (i: AdmitInput) => i.global.perHour },
] as const;
const IN_FLIGHT_POLICY = 'in-flight';

/** The script's refusing-check number → what the caller is told. */
const REFUSALS: Record<number, { limit: AdmissionLimit; code: AdmissionCode; policy?: string }> = {
  1: { limit: 'user_minute', code: 'rate_limited', policy: 'minute' },
  2: { limit: 'user_hour', code: 'rate_limited', policy: 'hour' },
  3: { limit: 'user_day', code: 'rate_limited', policy: 'day' },
  4: { limit: 'global_hour', code: 'rate_limited', policy: 'global-hour' },
  5: { limit: 'in_flight', code: 'too_many_in_flight', policy: IN_FLIGHT_POLICY },
  // A budget is not a request quota, so no RateLimit policy names it (see buildHeaders).
  6: { limit: 'user_budget', code: 'budget_exceeded' },
  7: { limit: 'global_budget', code: 'budget_exceeded' },
};

type Reply = {
  allowed: boolean;
  refusedBy: number;
  waitMs: number;
  windows: { remaining: number; resetMs: number }[];
  inFlightRemaining: number;
};

/**
 * Reads the admit script's reply. A refusal by a check this file does not know (a script and
 * code out of step) is an error, not an admission: letting it through would skip a limit.
 * Exported for its unit test.
 */
export function parseReply(raw: unknown): Reply {
  if (!Array.isArray(raw)) throw new Error(`admission: unexpected script reply ${JSON.stringify(raw)}`);
  const n = raw.map(Number);
  if (n[0] !== 1 && REFUSALS[n[1] ?? 0] === undefined) {
    throw new Error(`admission: the script refused by unknown check ${String(raw[1])}`);
  }
  return {
    allowed: n[0] === 1,
    refusedBy: n[1] ?? 0,
    waitMs: n[2] ?? 0,
    windows: WINDOWS.map((_, i) => ({ remaining: n[3 + i * 2] ?? 0, resetMs: n[4 + i * 2] ?? 0 })),
    inFlightRemaining: n[11] ?? -1,
  };
}

const toSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

function buildHeaders(input: AdmitInput, reply: Reply): RateLimitHeaders {
  const policy = formatRateLimitPolicy([
    ...WINDOWS.map((w) => ({ name: w.policy, quota: w.quota(input), windowSeconds: w.seconds })),
    { name: IN_FLIGHT_POLICY, quota: input.limits.maxInFlight, unit: 'concurrent-requests' as const },
  ]);
  const refusal = reply.allowed ? undefined : REFUSALS[reply.refusedBy];
  let named: ServiceLimit | undefined;
  if (refusal?.policy) {
    named = { name: refusal.policy, remaining: 0, resetSeconds: toSeconds(reply.waitMs) };
  } else {
    // Admitted, or refused by a budget: name the user's own window closest to exhaustion. The
    // global window is left out here so responses do not reveal other users' traffic.
    named = closestToExhaustion(
      WINDOWS.slice(0, 3).map((w, i) => ({
        name: w.policy,
        remaining: reply.windows[i]?.remaining ?? 0,
        resetSeconds: Math.ceil((reply.windows[i]?.resetMs ?? 0) / 1000),
      })),
    );
  }
  const headers: RateLimitHeaders = {
    'RateLimit-Policy': policy,
    RateLimit: named ? formatRateLimit(named) : '',
  };
  if (refusal) headers['Retry-After'] = String(toSeconds(reply.waitMs));
  return headers;
}

function toResult(input: AdmitInput, reply: Reply): AdmissionResult {
  const headers = buildHeaders(input, reply);
  const refusal = REFUSALS[reply.refusedBy];
  if (reply.allowed || !refusal) return { allowed: true, headers }; // parseReply vouches for `refusal`
  return {
    allowed: false,
    code: refusal.code,
    limit: refusal.limit,
    retryAfterSeconds: toSeconds(reply.waitMs),
    headers,
  };
}

/**
 * Admission control for the API: per-user minute/hour/day windows, the global hourly window, the
 * per-user in-flight cap and the user's and global daily budgets, all checked (and, when every
 * check passes, counted) in one atomic Lua call on Redis's clock. A refusal counts nothing. When
 * Redis is unreachable the calls reject: callers fail closed (503 `dependency_unavailable`).
 *
 * @example
 * const admission = createAdmission(redis, keys);
 * const result = await admission.admit({ userId, queryId, limits: tier, global: config.limits.global });
 * for (const [name, value] of Object.entries(result.headers)) c.header(name, value);
 * if (!result.allowed) throw new AppError(result.code, '…', { status: 429, retryAfter: result.retryAfterSeconds });
 * // a cache hit: counts against the windows only
 * await admission.admit({ ...input, inFlight: false, budget: false });
 * // when the query finishes (done or error)
 * await admission.release(userId, queryId);
 */
export function createAdmission(redis: RedisClient, keys: Keys, options: AdmissionOptions = {}) {
  const inFlightTtlMs = options.inFlightTtlMs ?? 600_000;
  const releaseRetryMs = (options.releaseRetrySeconds ?? 5) * 1000;
  assertCount('inFlightTtlMs', inFlightTtlMs);

  async function run(input: AdmitInput, dryRun: boolean): Promise<Reply> {
    const inFlight = input.inFlight ?? true;
    const budget = input.budget ?? true;
    const raw = await admitScript.run(
      redis,
      [
        keys.limitsUserWindow(input.userId, 'minute'),
        keys.limitsUserWindow(input.userId, 'hour'),
        keys.limitsUserWindow(input.userId, 'day'),
        keys.limitsGlobalWindow(),
        keys.limitsInFlight(input.userId),
        keys.limitsUserBudget(input.userId),
        keys.limitsUserReservations(input.userId),
        keys.limitsGlobalBudget(),
        keys.limitsGlobalReservations(),
        ...(input.record ? [input.record.log, input.record.copy] : []),
      ],
      [
        input.queryId,
        input.limits.perMinute,
        input.limits.perHour,
        input.limits.perDay,
        input.global.perHour,
        inFlight ? input.limits.maxInFlight : '',
        budget ? input.limits.dailyBudgetMicros : '',
        input.global.dailyBudgetMicros,
        inFlightTtlMs,
        releaseRetryMs,
        timeArg(options.now),
        dryRun ? '1' : '0',
        ...(input.record ? [input.record.value, input.record.ttlMs] : []),
      ],
    );
    return parseReply(raw);
  }

  return {
    /** Checks every limit and, only when all pass, counts the request (and holds an in-flight slot). */
    async admit(input: AdmitInput): Promise<AdmissionResult> {
      return toResult(input, await run(input, false));
    },

    /**
     * What `admit` would decide now, and what is left of each limit, counting nothing (for a
     * usage endpoint).
     */
    async peek(input: AdmitInput): Promise<{ wouldAdmit: AdmissionResult; state: AdmissionState }> {
      const reply = await run(input, true);
      const window = (i: number): LimitState => ({
        limit: WINDOWS[i]?.quota(input) ?? 0,
        remaining: reply.windows[i]?.remaining ?? 0,
        resetSeconds: Math.ceil((reply.windows[i]?.resetMs ?? 0) / 1000),
      });
      const state: AdmissionState = {
        user_minute: window(0),
        user_hour: window(1),
        user_day: window(2),
        global_hour: window(3),
      };
      if (reply.inFlightRemaining >= 0) {
        state.in_flight = { limit: input.limits.maxInFlight, remaining: reply.inFlightRemaining };
      }
      return { wouldAdmit: toResult(input, reply), state };
    },

    /** Frees the query's in-flight slot (call when it finishes, whatever the outcome). Idempotent. */
    async release(userId: string, queryId: string): Promise<void> {
      await redis.zrem(keys.limitsInFlight(userId), queryId);
    },
  };
}

/** The admission controller's interface. */
export type Admission = ReturnType<typeof createAdmission>;
