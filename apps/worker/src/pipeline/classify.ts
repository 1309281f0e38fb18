/**
 * What kind of request a question is. Computed for every question (the pipeline's `classify`
 * step) and handed to the prompt builder, but nothing acts on it yet: no router exists and the
 * prompt does not read it. A later issue builds model routing on it.
 */
export type Classification = {
  kind: 'question' | 'instruction' | 'chitchat';
  /** Rough size: short lookups vs. open-ended asks (what routing would go by). */
  complexity: 'simple' | 'complex';
  words: number;
};

const CHITCHAT = /^(hi|hello|hey|thanks|thank you|ok|okay|good (morning|evening|night)|bye)\b[\s!.?]*$/i;
const QUESTION_START =
  /^(who|what|when|where|why|how|which|whose|whom|is|are|was|were|do|does|did|can|could|should|would|will|have|has|had)\b/i;
const COMPLEX_HINT = /\b(compare|explain|summari[sz]e|why|analy[sz]e|pros and cons|difference|plan)\b/i;

/** Classifies a question by cheap lexical rules (no model): fast, deterministic, testable. */
export function classifyQuery(query: string): Classification {
  const text = query.trim();
  const words = text.split(/\s+/).filter(Boolean).length;
  const kind = CHITCHAT.test(text)
    ? 'chitchat'
    : text.endsWith('?') || QUESTION_START.test(text)
      ? 'question'
      : 'instruction';
  const complexity = words > 25 || COMPLEX_HINT.test(text) ? 'complex' : 'simple';
  return { kind, complexity, words };
}
