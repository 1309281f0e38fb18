import { Answer } from '@assistant/contracts';
import { z } from 'zod';
import { EvidenceRef } from './evidence.ts';

/** An answer as the caches store it: the answer, the chunks it used, and when it was made. */
export const CachedAnswer = Answer.extend({
  evidence: z.array(EvidenceRef),
  /** ISO 8601 time the answer was stored. */
  createdAt: z.string(),
});
export type CachedAnswer = z.infer<typeof CachedAnswer>;

/** Which cache tier served an answer. */
export type AnswerCacheTier = 'exact' | 'semantic';

/** Reads a stored answer; anything unreadable (old format, corruption) is a miss, not an error. */
export function decodeCachedAnswer(raw: string | null): CachedAnswer | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = CachedAnswer.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
