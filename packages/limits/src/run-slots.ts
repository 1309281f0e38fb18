import { type Keys, loadLua, type RedisClient } from '@assistant/queue';
import { assertCount, timeArg } from './script-args.ts';

const acquireScript = loadLua(new URL('./lua/run-slot-acquire.lua', import.meta.url));
const renewScript = loadLua(new URL('./lua/run-slot-renew.lua', import.meta.url));

/** Options of {@link createRunSlots}. */
export type RunSlotsOptions = {
  /**
   * How long a slot is held without a renewal: a dead worker's slot frees itself after it.
   * Renew well within it (e.g. every `leaseMs / 3`) while the job runs.
   */
  leaseMs: number;
  /** Test hook: the time the scripts use instead of Redis `TIME`. Leave unset in production. */
  now?: () => number;
};

/**
 * A per-user semaphore for the workers: at most `max` jobs of a user run at once. Each slot is a
 * lease in a Redis ZSET scored by its expiry, pruned atomically on every acquire, so a worker that
 * dies frees its slot when the lease runs out: nothing leaks. Acquire is idempotent per job id.
 *
 * @example
 * const slots = createRunSlots(redis, keys, { leaseMs: 30_000 });
 * if (!(await slots.acquire(userId, job.id, tier.maxRunning))) {
 *   await job.moveToDelayed(Date.now() + 1_000, token); // over the cap: wait, do not fail
 *   throw new DelayedError();
 * }
 * const timer = setInterval(() => void slots.renew(userId, job.id), 10_000);
 * try { await run(job); } finally { clearInterval(timer); await slots.release(userId, job.id); }
 */
export function createRunSlots(redis: RedisClient, keys: Keys, options: RunSlotsOptions) {
  assertCount('leaseMs', options.leaseMs);
  if (options.leaseMs === 0) throw new RangeError('leaseMs must be positive');

  return {
    /** Takes a slot for the job (or keeps the one it holds); `false` when all `max` are taken. */
    async acquire(userId: string, jobId: string, max: number): Promise<boolean> {
      assertCount('max', max);
      const held = await acquireScript.run(
        redis,
        [keys.limitsRunSlots(userId)],
        [jobId, max, options.leaseMs, timeArg(options.now)],
      );
      return Number(held) === 1;
    },

    /**
     * Extends the job's lease. `false` when the job no longer held a slot (its lease ran out and
     * may have gone to another job); the caller then decides whether to carry on.
     */
    async renew(userId: string, jobId: string): Promise<boolean> {
      const renewed = await renewScript.run(
        redis,
        [keys.limitsRunSlots(userId)],
        [jobId, options.leaseMs, timeArg(options.now)],
      );
      return Number(renewed) === 1;
    },

    /** Frees the job's slot. Idempotent. */
    async release(userId: string, jobId: string): Promise<void> {
      await redis.zrem(keys.limitsRunSlots(userId), jobId);
    },
  };
}

/** The run-slot semaphore's interface. */
export type RunSlots = ReturnType<typeof createRunSlots>;
