import { answerOf } from './answer-of.ts';
import type { CostEntry } from './costs-repo.ts';
import type { QueryRow } from './schema.ts';

/** Per-token prices a ledger entry records (nano-dollars, integers). */
export type TokenPricing = { inputNanosPerToken: number; outputNanosPerToken: number };

/** The UTC calendar day (`YYYY-MM-DD`) of a time: the ledger's day. */
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The ledger entry of a succeeded row: one per query, counted on the day the row finished. A
 * cached answer costs nothing, so its entry records no per-token price.
 *
 * @example
 * await queries.markSucceeded(id, result, (row) => ledgerEntryOf(row, pricing, Date.now()));
 */
export function ledgerEntryOf(row: QueryRow, pricing: TokenPricing, now: number): CostEntry {
  const answer = answerOf(row);
  return {
    queryId: row.id,
    userId: row.userId,
    day: utcDay((row.finishedAt ?? new Date(now)).getTime()),
    provider: answer.provider,
    model: answer.model,
    promptTokens: answer.usage.prompt_tokens,
    completionTokens: answer.usage.completion_tokens,
    inputNanosPerToken: row.cached ? 0 : pricing.inputNanosPerToken,
    outputNanosPerToken: row.cached ? 0 : pricing.outputNanosPerToken,
    costMicros: row.costMicros ?? 0,
    cached: row.cached,
  };
}
