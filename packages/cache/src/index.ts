export type {
  AnswerCache,
  AnswerCacheOptions,
  AnswerLookup,
  AnswerPrefetch,
  AnswerWrite,
  ExactHit,
} from './answer-cache.ts';
export { createAnswerCache } from './answer-cache.ts';
export type { AnswerKeyInput, AnswerKeyParts } from './answer-key.ts';
export { answerCacheKeyParts, semanticScope } from './answer-key.ts';
export type { CacheEpochs, CacheEpochsDeps, CacheState, PurgeResult, PurgeScope } from './cache-epochs.ts';
export { createCacheEpochs } from './cache-epochs.ts';
export type { CacheDeps, CacheOutcome, CacheTier, OnCacheEvent } from './cache-events.ts';
export { CACHE_OUTCOMES, CACHE_TIERS } from './cache-events.ts';
export type { AnswerCacheTier } from './cached-answer.ts';
export { CachedAnswer } from './cached-answer.ts';
export { createCachedEmbedder } from './cached-embedder.ts';
export type { ContextCache, ContextCacheOptions } from './context-cache.ts';
export { createContextCache } from './context-cache.ts';
export type { EmbeddingCache, EmbeddingCacheOptions, EmbeddingEntry } from './embedding-cache.ts';
export { createEmbeddingCache } from './embedding-cache.ts';
export type { CurrentVersions, NoteVersions } from './evidence.ts';
export { EvidenceRef, evidenceFingerprint, isEvidenceCurrent } from './evidence.ts';
export type { AnswerSettings, JsonValue } from './fingerprint.ts';
export { settingsFingerprint, stableJson } from './fingerprint.ts';
export { normalizeQuery } from './normalize-query.ts';
export type { QueryGuard } from './query-guard.ts';
export { queryGuard, semanticQueryText } from './query-guard.ts';
export type {
  SemanticCache,
  SemanticCacheDeps,
  SemanticCacheOptions,
  SemanticHit,
  SemanticQuery,
} from './semantic-cache.ts';
export { createSemanticCache } from './semantic-cache.ts';
export type { SingleFlight, SingleFlightOptions } from './single-flight.ts';
export { createSingleFlight } from './single-flight.ts';
export type { SkipReason, StoreCandidate, StorePolicy, StoreResult } from './store-policy.ts';
