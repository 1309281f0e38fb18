import type { TierName } from '@assistant/config';
import { type Keys, mgetAnySlots, type RedisClient } from '@assistant/queue';

/**
 * Everything an answer-cache key depends on besides the question and the settings: the user's
 * notes generation and the purge epochs. Read it once per request with `readCacheState` and pass
 * it to the answer and semantic caches.
 */
export type CacheState = {
  readonly userId: string;
  readonly tier: TierName;
  /** The user's notes generation; every note change raises it. */
  readonly generation: number;
  /** Purge counters: raising one makes every answer under it unreachable. */
  readonly epochs: { readonly global: number; readonly tier: number; readonly user: number };
};

/** What `POST /v1/admin/cache/purge` may drop. */
export type PurgeScope =
  | { scope: 'all' }
  | { scope: 'user'; userId: string }
  | { scope: 'tier'; tier: TierName };

/** What a purge did: the scope and the epoch now in force for it. */
export type PurgeResult = PurgeScope & { epoch: number };

/** Collaborators of {@link createCacheEpochs}. */
export type CacheEpochsDeps = {
  /**
   * The generation when its Redis mirror is missing (expired or never published), e.g.
   * `notesGenerations.current` from `@assistant/queue`, which reloads it from Postgres. Never
   * guess 0 instead: an old cached answer could then be served after the notes changed.
   */
  loadGeneration: (userId: string) => Promise<number>;
};

function counter(value: string | null): number {
  if (value === null) return 0;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new Error(`cache counter is not an integer: ${value}`);
  return parsed;
}

function epochKey(keys: Keys, scope: PurgeScope): string {
  switch (scope.scope) {
    case 'all':
      return keys.cacheEpochGlobal();
    case 'tier':
      return keys.cacheEpochTier(scope.tier);
    case 'user':
      return keys.cacheEpochUser(scope.userId);
  }
}

/**
 * Purges by epochs: a purge is one INCR of a counter that is folded into every answer-cache key,
 * so it is O(1), needs no scan, and takes effect for every process on its next read. Entries of
 * old epochs are never read again and expire by their TTL. Epoch counters have no TTL on purpose:
 * a counter that expired would restart at 0 and could bring back answers written under it.
 *
 * @example
 * const epochs = createCacheEpochs(redis, keys, { loadGeneration: generations.current });
 * const state = await epochs.readCacheState(user.id, user.tier); // one MGET
 * await epochs.purge({ scope: 'tier', tier: 'free' });
 */
export function createCacheEpochs(redis: RedisClient, keys: Keys, deps: CacheEpochsDeps) {
  return {
    /**
     * The user's generation and the three epochs in one MGET (no extra round trip on the hot
     * path; on a cluster one MGET per slot, sent together); only a missing generation costs a
     * call to `loadGeneration`.
     */
    async readCacheState(userId: string, tier: TierName): Promise<CacheState> {
      const [generation, global, tierEpoch, user] = await mgetAnySlots(redis, [
        keys.notesGeneration(userId),
        keys.cacheEpochGlobal(),
        keys.cacheEpochTier(tier),
        keys.cacheEpochUser(userId),
      ]);
      return {
        userId,
        tier,
        generation: generation == null ? await deps.loadGeneration(userId) : counter(generation),
        epochs: {
          global: counter(global ?? null),
          tier: counter(tierEpoch ?? null),
          user: counter(user ?? null),
        },
      };
    },

    /** Makes every cached answer in the scope unreachable for all processes at once. */
    async purge(scope: PurgeScope): Promise<PurgeResult> {
      return { ...scope, epoch: await redis.incr(epochKey(keys, scope)) };
    },
  };
}

/** The epochs' interface. */
export type CacheEpochs = ReturnType<typeof createCacheEpochs>;
