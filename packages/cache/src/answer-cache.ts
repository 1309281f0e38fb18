import type { Keys, RedisClient } from '@assistant/queue';
import type { AnswerKeyInput } from './answer-key.ts';
import { answerCacheKeyParts } from './answer-key.ts';
import type { CacheDeps } from './cache-events.ts';
import { ignoreCacheEvent } from './cache-events.ts';
import type { CachedAnswer } from './cached-answer.ts';
import { decodeCachedAnswer } from './cached-answer.ts';
import type { CurrentVersions } from './evidence.ts';
import { evidenceNoteIds, isEvidenceCurrent } from './evidence.ts';
import type { StoreCandidate, StorePolicy, StoreResult } from './store-policy.ts';
import { prepareForStore } from './store-policy.ts';

/** Tunables of {@link createAnswerCache}. */
export type AnswerCacheOptions = StorePolicy & {
  /** Seconds an answer is kept. @defaultValue 86400 */
  ttlSeconds?: number;
};

/** An exact-cache hit: the stored answer, marked with the tier that served it. */
export type ExactHit = CachedAnswer & { cache: 'exact' };

/** A lookup: the address, plus the versions check that guards against edited notes. */
export type AnswerLookup = AnswerKeyInput & {
  /**
   * Current versions of the cited notes; called only on a hit that cites notes. Leave it out only
   * when the state's generation is known to be Postgres's current one (not just the Redis mirror):
   * every answer is checked against its notes when stored (see {@link AnswerWrite}), and every
   * note change raises the generation, so the key then proves its evidence current.
   */
  currentVersions?: CurrentVersions;
};

/** A write: the address plus the answer, its evidence and whether it came from a fallback. */
export type AnswerWrite = AnswerKeyInput &
  StoreCandidate & {
    /**
     * Current versions of the cited notes, read just before the write: an answer whose evidence
     * is no longer current (a note edited or deleted while it was being answered, or chunks of an
     * older version still indexed) is not stored (`stale_evidence`), nor one whose versions
     * cannot be read.
     */
    currentVersions?: CurrentVersions;
  };

/**
 * A read of an answer started early, under a guessed cache state, so it travels with the state's
 * own read (one round trip); `get` uses it only when the real state gives the same key.
 */
export type AnswerPrefetch = { key: string; raw: Promise<string | null> };

/**
 * The exact answer cache: one Redis string per (user, generation, epochs, tier, normalized
 * question, settings), 24 h by default. A hit is served only while every note it cites is still
 * at the version it was answered from, so an edit can never serve an answer built on old text.
 *
 * @example
 * const state = await epochs.readCacheState(user.id, user.tier);
 * const hit = await answers.get({ state, query, settings, currentVersions: (ids) => notes.versions(user.id, ids) });
 */
export function createAnswerCache(
  redis: RedisClient,
  keys: Keys,
  options: AnswerCacheOptions = {},
  deps: CacheDeps = {},
) {
  const ttlSeconds = options.ttlSeconds ?? 86_400;
  const onCacheEvent = deps.onCacheEvent ?? ignoreCacheEvent;
  const now = deps.now ?? Date.now;

  function keyOf(input: AnswerKeyInput): string {
    const { userId, generation, hash } = answerCacheKeyParts(input);
    return keys.answerCache(userId, generation, hash);
  }

  return {
    /** Starts reading the answer stored under a guessed state (see {@link AnswerPrefetch}). */
    prefetch(guess: AnswerKeyInput): AnswerPrefetch {
      const key = keyOf(guess);
      const raw = redis.get(key);
      // Awaited only when the guess proves right; a failure is then the lookup's own.
      raw.catch(() => {});
      return { key, raw };
    },

    /** The cached answer, or `undefined` when absent, unreadable or built on changed notes. */
    async get(lookup: AnswerLookup, prefetched?: AnswerPrefetch): Promise<ExactHit | undefined> {
      const key = keyOf(lookup);
      const cached = decodeCachedAnswer(await (prefetched?.key === key ? prefetched.raw : redis.get(key)));
      const noteIds = cached && lookup.currentVersions ? evidenceNoteIds(cached.evidence) : [];
      const current =
        cached !== undefined &&
        (noteIds.length === 0 || isEvidenceCurrent(cached.evidence, await lookup.currentVersions!(noteIds)));
      if (!cached || !current) {
        onCacheEvent('exact', 'miss');
        return undefined;
      }
      onCacheEvent('exact', 'hit');
      return { ...cached, cache: 'exact' };
    },

    /**
     * Stores an answer with its TTL, unless it must not be cached: then nothing is written and
     * the reason is returned (`truncated`, `fallback`, `invalid_answer`, `stale_evidence`).
     */
    async set(write: AnswerWrite): Promise<StoreResult> {
      const prepared = prepareForStore(write, options, new Date(now()).toISOString());
      if ('reason' in prepared) return { stored: false, reason: prepared.reason };
      const noteIds = write.currentVersions ? evidenceNoteIds(write.evidence) : [];
      if (noteIds.length > 0) {
        // Versions that cannot be read (Postgres down) prove nothing: the answer is not cached,
        // and the question it answered is not failed for it.
        const versions = await write.currentVersions!(noteIds).catch(() => undefined);
        if (!versions || !isEvidenceCurrent(write.evidence, versions)) {
          return { stored: false, reason: 'stale_evidence' };
        }
      }
      await redis.set(keyOf(write), JSON.stringify(prepared.value), 'EX', ttlSeconds);
      onCacheEvent('exact', 'store');
      return { stored: true };
    },
  };
}

/** The exact answer cache's interface. */
export type AnswerCache = ReturnType<typeof createAnswerCache>;
