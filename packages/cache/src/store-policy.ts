import type { Answer } from '@assistant/contracts';
import { CachedAnswer } from './cached-answer.ts';
import type { EvidenceRef } from './evidence.ts';

/** Which answers may be cached besides complete, first-choice ones. */
export type StorePolicy = {
  /** Cache answers cut off by the token limit. @defaultValue false */
  storeTruncated?: boolean;
  /** Cache answers from a fallback model or the offline answerer. @defaultValue false */
  storeFallback?: boolean;
};

/** Why an answer was not cached. */
export type SkipReason = 'invalid_answer' | 'truncated' | 'fallback' | 'invalid_vector' | 'stale_evidence';

/** Outcome of a cache write: stored, or the reason it was refused. */
export type StoreResult = { stored: true } | { stored: false; reason: SkipReason };

/** What a cache write is given. */
export type StoreCandidate = {
  answer: Answer;
  /** The note chunks the answer used. */
  evidence: EvidenceRef[];
  /** True when the answer came from a fallback model or the offline extractive answerer. */
  fallback: boolean;
};

/**
 * The one rule for what may be cached: a well-formed answer (never an error passed off as one),
 * not truncated and not from a fallback, unless the policy allows those. Returns the value to
 * store, or why not.
 */
export function prepareForStore(
  candidate: StoreCandidate,
  policy: StorePolicy,
  createdAt: string,
): { value: CachedAnswer } | { reason: SkipReason } {
  const parsed = CachedAnswer.safeParse({ ...candidate.answer, evidence: candidate.evidence, createdAt });
  if (!parsed.success) return { reason: 'invalid_answer' };
  if (parsed.data.truncated && !policy.storeTruncated) return { reason: 'truncated' };
  if (candidate.fallback && !policy.storeFallback) return { reason: 'fallback' };
  return { value: parsed.data };
}
