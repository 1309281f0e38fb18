import { randomBytes } from 'node:crypto';
import { type Keys, loadLua, type RedisClient } from '@assistant/queue';
import { semanticScope } from './answer-key.ts';
import type { CacheState } from './cache-epochs.ts';
import type { CacheDeps } from './cache-events.ts';
import { ignoreCacheEvent } from './cache-events.ts';
import { CachedAnswer } from './cached-answer.ts';
import type { AnswerSettings } from './fingerprint.ts';
import { sha256Bytes, stableJson } from './fingerprint.ts';
import { cosineWithStored, float32ToBytes } from './float32-bytes.ts';
import { normalizeQuery } from './normalize-query.ts';
import { queryGuard, semanticQueryText } from './query-guard.ts';
import type { StoreCandidate, StorePolicy, StoreResult } from './store-policy.ts';
import { prepareForStore } from './store-policy.ts';

/** Tunables of {@link createSemanticCache}. */
export type SemanticCacheOptions = StorePolicy & {
  /** Least cosine similarity between question vectors for a reuse. @defaultValue 0.95 */
  threshold?: number;
  /** Entries kept per user, generation, epochs and settings; the oldest go first. @defaultValue 200 */
  maxEntriesPerUser?: number;
  /** Seconds the entries live after the last store. @defaultValue 86400 */
  ttlSeconds?: number;
};

/** Collaborators of {@link createSemanticCache}. */
export type SemanticCacheDeps = CacheDeps & {
  /** A 16-character entry id. @defaultValue 8 random bytes in hex */
  newId?: () => string;
};

/** Where to look: the user's state, the answer settings, and the question. */
export type SemanticQuery = {
  state: CacheState;
  settings: AnswerSettings;
  /** The question as asked (its numbers, negations and names are compared exactly). */
  query: string;
  /** Embedding of the question as asked: the vector retrieval already computed for it. */
  vector: Float32Array;
  /**
   * Fingerprint of the chunks retrieval returned for this question (`evidenceFingerprint`): an
   * answer is reused only for a question that would be answered from the very same chunks.
   */
  evidenceKey: string;
};

/** A semantic-cache hit: the earlier answer, marked, with how close the questions were. */
export type SemanticHit = CachedAnswer & {
  cache: 'semantic';
  /** Cosine similarity of the two question vectors; 1 when their normalized texts are equal. */
  similarity: number;
  /** The earlier question, normalized. */
  matchedQuery: string;
};

const ID_BYTES = 16;
const FINGERPRINT_BYTES = 32;
const EVIDENCE_AT = ID_BYTES;
const GUARD_AT = EVIDENCE_AT + FINGERPRINT_BYTES;
const TEXT_AT = GUARD_AT + FINGERPRINT_BYTES;
const VECTOR_AT = TEXT_AT + FINGERPRINT_BYTES;
const ENTRY_ID = new RegExp(`^[0-9A-Za-z]{${ID_BYTES}}$`);

// Index entries are binary: id (16 ASCII bytes) | sha256(evidenceKey) | sha256(guard) |
// sha256(semanticQueryText) | float32 LE vector. The script finds an evicted entry's answer by
// the id at its start. An entry of another layout has another length: its cosine is 0.
const storeEntry = loadLua(new URL('./lua/semantic-store.lua', import.meta.url));

function newEntryId(): string {
  return randomBytes(ID_BYTES / 2).toString('hex');
}

function fingerprints(query: SemanticQuery): { evidence: Buffer; guard: Buffer; text: Buffer } {
  return {
    evidence: sha256Bytes(query.evidenceKey),
    guard: sha256Bytes(stableJson(queryGuard(query.query))),
    text: sha256Bytes(semanticQueryText(query.query)),
  };
}

// Answers are stored as {q: normalized question, a: CachedAnswer}; anything unreadable is a miss.
function decodeStoredAnswer(raw: string | null): { matchedQuery: string; answer: CachedAnswer } | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = JSON.parse(raw) as { q?: unknown; a?: unknown };
    const answer = CachedAnswer.safeParse(parsed.a);
    return typeof parsed.q === 'string' && answer.success
      ? { matchedQuery: parsed.q, answer: answer.data }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The semantic answer cache: reuses an earlier answer of the same user, generation, epochs and
 * settings when the two questions are close — their normalized texts are equal
 * ({@link semanticQueryText}: "what's the wifi password?" and "what is my wifi password", whose
 * vectors are only 0.92 apart), or their vectors are within `threshold` cosine — and their numbers,
 * negations and names are the same ({@link queryGuard}), and retrieval returned the same chunks.
 * The vector is the one retrieval computed, so the cache costs no inference of its own. A lookup
 * reads the user's index in one LRANGE (linear in entries, fine at 200) and the chosen answer in
 * one HGET.
 *
 * @example
 * const [vector] = await embedder.embed([query]); // also retrieval's
 * const hit = await semantic.lookup({ state, settings, query, vector, evidenceKey });
 */
export function createSemanticCache(
  redis: RedisClient,
  keys: Keys,
  options: SemanticCacheOptions = {},
  deps: SemanticCacheDeps = {},
) {
  const threshold = options.threshold ?? 0.95;
  const maxEntries = options.maxEntriesPerUser ?? 200;
  const ttlSeconds = options.ttlSeconds ?? 86_400;
  const onCacheEvent = deps.onCacheEvent ?? ignoreCacheEvent;
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? newEntryId;

  function keysOf(state: CacheState, settings: AnswerSettings) {
    const scope = semanticScope(state, settings);
    return {
      index: keys.semanticIndex(state.userId, state.generation, scope),
      answers: keys.semanticAnswers(state.userId, state.generation, scope),
    };
  }

  function miss(): undefined {
    onCacheEvent('semantic', 'miss');
    return undefined;
  }

  return {
    /** The closest earlier answer that passes every check, or `undefined`. */
    async lookup(query: SemanticQuery): Promise<SemanticHit | undefined> {
      const { index, answers } = keysOf(query.state, query.settings);
      const entries = await redis.lrangeBuffer(index, 0, -1);
      const wanted = fingerprints(query);
      let best: { id: string; similarity: number } | undefined;
      for (const entry of entries) {
        if (entry.byteLength < VECTOR_AT) continue;
        if (!entry.subarray(EVIDENCE_AT, GUARD_AT).equals(wanted.evidence)) continue;
        if (!entry.subarray(GUARD_AT, TEXT_AT).equals(wanted.guard)) continue;
        const sameText = entry.subarray(TEXT_AT, VECTOR_AT).equals(wanted.text);
        const similarity = sameText ? 1 : cosineWithStored(query.vector, entry, VECTOR_AT);
        if (similarity >= threshold && similarity > (best?.similarity ?? -1)) {
          best = { id: entry.toString('latin1', 0, ID_BYTES), similarity };
        }
      }
      if (!best) return miss();
      // The entry may have been evicted since the LRANGE; then it is simply a miss.
      const raw = await redis.hget(answers, best.id);
      const stored = decodeStoredAnswer(raw);
      if (!stored) return miss();
      onCacheEvent('semantic', 'hit');
      return {
        ...stored.answer,
        cache: 'semantic',
        similarity: best.similarity,
        matchedQuery: stored.matchedQuery,
      };
    },

    /**
     * Adds an answer under its question's vector, evicting the user's oldest entries beyond the
     * cap, unless it must not be cached (then the reason is returned and nothing is written).
     */
    async store(entry: SemanticQuery & StoreCandidate): Promise<StoreResult> {
      if (entry.vector.length === 0 || !entry.vector.every(Number.isFinite)) {
        return { stored: false, reason: 'invalid_vector' };
      }
      const prepared = prepareForStore(entry, options, new Date(now()).toISOString());
      if ('reason' in prepared) return { stored: false, reason: prepared.reason };
      const id = newId();
      if (!ENTRY_ID.test(id))
        throw new RangeError(`an entry id must be ${ID_BYTES} ASCII letters or digits, got ${id}`);
      const { evidence, guard, text } = fingerprints(entry);
      const indexEntry = Buffer.concat([
        Buffer.from(id, 'latin1'),
        evidence,
        guard,
        text,
        float32ToBytes(entry.vector),
      ]);
      const answer = JSON.stringify({ q: normalizeQuery(entry.query), a: prepared.value });
      const { index, answers } = keysOf(entry.state, entry.settings);
      await storeEntry.run(
        redis,
        [index, answers],
        [id, indexEntry, answer, maxEntries, ttlSeconds, ID_BYTES],
      );
      onCacheEvent('semantic', 'store');
      return { stored: true };
    },
  };
}

/** The semantic cache's interface. */
export type SemanticCache = ReturnType<typeof createSemanticCache>;
