import type { CacheState } from './cache-epochs.ts';
import type { AnswerSettings } from './fingerprint.ts';
import { settingsFingerprint, sha256Hex, stableJson } from './fingerprint.ts';
import { normalizeQuery } from './normalize-query.ts';

/** What one exact answer-cache entry is addressed by. */
export type AnswerKeyInput = { state: CacheState; query: string; settings: AnswerSettings };

/** The parts of an exact answer-cache key: build the Redis key with `keys.answerCache(...)`. */
export type AnswerKeyParts = {
  userId: string;
  generation: number;
  normalizedQuery: string;
  /** Hex SHA-256 of user, generation, epochs, tier, normalized query and settings fingerprint. */
  hash: string;
};

/**
 * Derives the exact-cache address of a question. Everything an answer depends on is hashed in,
 * so a change of any of them (a note edit, a purge, another model or prompt) is a different key.
 *
 * @example
 * const { userId, generation, hash } = answerCacheKeyParts({ state, query, settings });
 * const key = keys.answerCache(userId, generation, hash);
 */
export function answerCacheKeyParts({ state, query, settings }: AnswerKeyInput): AnswerKeyParts {
  const normalizedQuery = normalizeQuery(query);
  const hash = sha256Hex(
    stableJson({
      v: 1,
      user: state.userId,
      generation: state.generation,
      tier: state.tier,
      epochs: [state.epochs.global, state.epochs.tier, state.epochs.user],
      query: normalizedQuery,
      settings: settingsFingerprint(settings),
    }),
  );
  return { userId: state.userId, generation: state.generation, normalizedQuery, hash };
}

/**
 * The address of a user's semantic-cache entries: like the exact key without the question, so
 * only questions asked under the same generation, epochs, tier and settings are compared.
 */
export function semanticScope(state: CacheState, settings: AnswerSettings): string {
  return sha256Hex(
    stableJson({
      v: 1,
      user: state.userId,
      tier: state.tier,
      epochs: [state.epochs.global, state.epochs.tier, state.epochs.user],
      settings: settingsFingerprint(settings),
    }),
  );
}
