import type { CostJob } from '@assistant/contracts';
import { answerOf } from './answer-of.ts';
import type { QueryRow } from './schema.ts';

/** Per-token prices a ledger entry records (nano-dollars, integers). */
export type TokenPricing = { inputNanosPerToken: number; outputNanosPerToken: number };

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The ledger entry (`settle-costs` job) of a succeeded row: one per query, counted on the day the
 * row finished. A cached answer costs nothing, so its entry records no per-token price.
 *
 * @example
 * await costQueue.enqueue(ledgerEntryOf(row, pricing(row.provider, row.model), Date.now()));
 */
export function ledgerEntryOf(row: QueryRow, pricing: TokenPricing, now: number): CostJob {
  const answer = answerOf(row);
  return {
    query_id: row.id,
    user_id: row.userId,
    day: utcDay((row.finishedAt ?? new Date(now)).getTime()),
    provider: answer.provider,
    model: answer.model,
    prompt_tokens: answer.usage.prompt_tokens,
    completion_tokens: answer.usage.completion_tokens,
    input_nanos_per_token: row.cached ? 0 : pricing.inputNanosPerToken,
    output_nanos_per_token: row.cached ? 0 : pricing.outputNanosPerToken,
    cost_micros: row.costMicros ?? 0,
    cached: row.cached,
  };
}
