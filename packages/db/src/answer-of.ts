import { type Answer, QueryClass, type Route, type Usage } from '@assistant/contracts';
import type { QuerySuccess } from './queries-repo.ts';
import type { QueryRow } from './schema.ts';

/** Micro-dollars (how money is stored and counted) as the dollars clients see. */
export function microsToUsd(micros: number): number {
  return micros / 1e6;
}

/** Token counts as clients see them. */
export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/**
 * The answer a succeeded row stores, as the `done` event and the query view carry it. The one
 * reading of the answer columns; {@link rowOfAnswer} is the one writing of them.
 */
export function answerOf(row: QueryRow): Answer {
  return {
    outcome: row.outcome,
    answer: row.answer ?? '',
    sources: row.sources,
    model: row.model ?? 'unknown',
    provider: row.provider ?? 'unknown',
    usage: usageOf(row.promptTokens ?? 0, row.completionTokens ?? 0),
    cost_usd: microsToUsd(row.costMicros ?? 0),
    truncated: row.truncated,
    ...(row.fallback ? { fallback: row.fallback } : {}),
    ...(row.quality ? { quality: row.quality } : {}),
    ...(row.escalation ? { escalation: row.escalation } : {}),
    ...(row.queryClass ? { route: routeOf(row, row.queryClass) } : {}),
  };
}

/**
 * The route of a routed row: its class, and the model routing chose, which is the first model
 * tried: the escalated first attempt's when the answer was escalated, else the first fallback
 * attempt's when there is one, else the model that answered.
 */
function routeOf(row: QueryRow, queryClass: string): Route {
  const parsed = QueryClass.safeParse(queryClass);
  return {
    // A class this release does not know (written by a newer one) is shown as complex: the
    // dearer tier is the safe reading.
    class: parsed.success ? parsed.data : 'complex',
    model: row.escalation?.model ?? row.fallback?.attempts[0]?.model ?? row.model ?? 'unknown',
  };
}

/**
 * The answer columns of a succeeded row. `costMicros` is passed as stored (an integer), not
 * read back from the answer's `cost_usd` (a float).
 */
export function rowOfAnswer(answer: Answer, extras: { costMicros: number; cached: boolean }): QuerySuccess {
  return {
    answer: answer.answer,
    outcome: answer.outcome,
    sources: answer.sources,
    model: answer.model,
    provider: answer.provider,
    promptTokens: answer.usage.prompt_tokens,
    completionTokens: answer.usage.completion_tokens,
    costMicros: extras.costMicros,
    truncated: answer.truncated,
    cached: extras.cached,
    fallback: answer.fallback ?? null,
    qualityScore: answer.quality?.score ?? null,
    quality: answer.quality ?? null,
    escalation: answer.escalation ?? null,
    queryClass: answer.route?.class ?? null,
  };
}
