import type { FallbackResult } from '@assistant/llm';
import type { Metrics } from '@assistant/telemetry';

/**
 * Counts one answer the fallback chain produced (a model, the answer cache or the offline
 * answerer): its tokens (a total and a per-answer distribution), its spend, a truncation, and
 * every LLM call that failed on the way. `model` folds names outside the configured table into
 * `other`, so the labels stay bounded. A `discarded` answer (the first attempt of an escalated
 * question) counts its spend, tokens and failures only: the question's answer is the final one.
 */
export function countChainAnswer(
  metrics: Metrics,
  model: (name: string) => string,
  result: FallbackResult,
  costMicros: number,
  options: { discarded?: boolean } = {},
): void {
  const labels = { provider: result.provider, model: model(result.model) };
  metrics.apiCostUsd.inc({ model: labels.model }, costMicros / 1e6);
  const usage = { prompt: result.usage.promptTokens, completion: result.usage.completionTokens };
  for (const [direction, tokens] of Object.entries(usage)) {
    metrics.queryTokens.inc({ ...labels, direction }, tokens);
    // A cache hit spent no tokens: it is not an answer's token usage.
    if (result.fallback.source !== 'cache' && !options.discarded)
      metrics.answerTokens.observe({ direction }, tokens);
  }
  if (!options.discarded) {
    metrics.answersBySource.inc({ source: result.fallback.source });
    if (result.truncated) metrics.truncations.inc({ kind: 'answer' });
  }
  for (const attempt of result.fallback.attempts) {
    if (attempt.outcome !== 'failed') continue;
    metrics.generationFailures.inc({
      provider: attempt.provider,
      model: model(attempt.model),
      reason: attempt.reason,
    });
  }
}
