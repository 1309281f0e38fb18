import type { FlagName } from '@assistant/contracts';
import type { Keys, RedisClient } from '@assistant/queue';
import { isPartialRollout } from './flag-rules.ts';
import type { Flags } from './flag-snapshot.ts';

/**
 * Upper bounds (ms) of the latency buckets a cohort's answers are counted in; the last is open.
 * A p99 read from them is the upper bound of the bucket holding the 99th percentile, so a
 * threshold on a boundary (15 s, 10 s) is judged exactly.
 */
export const LATENCY_BOUNDS_MS = [
  500, 1_000, 2_000, 3_000, 5_000, 8_000, 10_000, 12_000, 15_000, 20_000, 30_000, 60_000,
];

const MINUTE_MS = 60_000;
// Counters outlive the longest window read (the hour of thumbs-down) with room to spare.
const STATS_TTL_SECONDS = 3 * 3600;

/** Sums of one cohort over a stretch of minutes. */
export type CohortStats = {
  /** Finished questions. */
  n: number;
  /** Of those, failed. */
  errors: number;
  /** Thumbs-down given. */
  down: number;
  /** Answers per latency bucket ({@link LATENCY_BOUNDS_MS}, then one past the last bound). */
  latency: number[];
};

/** The p99 (ms) of a cohort's latency buckets: a bucket's upper bound, `Infinity` past the last; 0 with no data. */
export function p99Of(stats: CohortStats): number {
  if (stats.n === 0) return 0;
  const rank = Math.ceil(stats.n * 0.99);
  let seen = 0;
  for (const [i, count] of stats.latency.entries()) {
    seen += count;
    if (seen >= rank) return LATENCY_BOUNDS_MS[i] ?? Number.POSITIVE_INFINITY;
  }
  return Number.POSITIVE_INFINITY;
}

function bucketOf(latencyMs: number): number {
  const i = LATENCY_BOUNDS_MS.findIndex((bound) => latencyMs <= bound);
  return i === -1 ? LATENCY_BOUNDS_MS.length : i;
}

/**
 * Per-flag, per-cohort counters for the canary guard, in Redis so that every worker and API
 * process adds to the same figures: for each flag in partial rollout, a finished question (or a
 * thumbs-down) is counted in the cohort its user falls in (`in` the rollout or `out`), by minute.
 * Nothing is written while no flag is in partial rollout.
 */
export function createCanaryStats(
  redis: RedisClient,
  keys: Keys,
  deps: { flags: Pick<Flags, 'all' | 'enabled'> },
) {
  function watched() {
    return deps.flags.all().filter((flag) => flag.source === 'override' && isPartialRollout(flag.rule));
  }

  async function add(userId: string, at: number, fields: Record<string, number>): Promise<void> {
    const flags = watched();
    if (flags.length === 0) return;
    const minute = Math.floor(at / MINUTE_MS);
    const pipeline = redis.pipeline();
    for (const flag of flags) {
      const cohort = deps.flags.enabled(flag.name, userId) ? 'in' : 'out';
      const key = keys.canaryStats(flag.name, flag.since, cohort, minute);
      for (const [field, by] of Object.entries(fields)) pipeline.hincrby(key, field, by);
      pipeline.expire(key, STATS_TTL_SECONDS);
    }
    await pipeline.exec();
  }

  return {
    /** Counts a finished question (succeeded or failed for good) and its time since it was asked. */
    recordQuery(input: { userId: string; failed: boolean; latencyMs: number; at: number }): Promise<void> {
      return add(input.userId, input.at, {
        n: 1,
        ...(input.failed ? { err: 1 } : {}),
        [`l${bucketOf(input.latencyMs)}`]: 1,
      });
    },
    /** Counts a thumbs-down. */
    recordThumbsDown(input: { userId: string; at: number }): Promise<void> {
      return add(input.userId, input.at, { down: 1 });
    },
    /** A cohort's sums over the minutes from `fromMs` to `toMs` (inclusive). */
    async read(
      flag: FlagName,
      since: number,
      cohort: 'in' | 'out',
      fromMs: number,
      toMs: number,
    ): Promise<CohortStats> {
      const pipeline = redis.pipeline();
      for (let minute = Math.floor(fromMs / MINUTE_MS); minute <= Math.floor(toMs / MINUTE_MS); minute++) {
        pipeline.hgetall(keys.canaryStats(flag, since, cohort, minute));
      }
      const replies = (await pipeline.exec()) ?? [];
      const sum: CohortStats = {
        n: 0,
        errors: 0,
        down: 0,
        latency: LATENCY_BOUNDS_MS.map(() => 0).concat(0),
      };
      for (const [error, value] of replies) {
        if (error) throw error;
        const hash = value as Record<string, string>;
        sum.n += Number(hash.n ?? 0);
        sum.errors += Number(hash.err ?? 0);
        sum.down += Number(hash.down ?? 0);
        for (let i = 0; i < sum.latency.length; i++) sum.latency[i]! += Number(hash[`l${i}`] ?? 0);
      }
      return sum;
    },
  };
}

/** The canary counters' interface. */
export type CanaryStats = ReturnType<typeof createCanaryStats>;
