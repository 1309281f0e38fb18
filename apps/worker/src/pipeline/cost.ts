/** Price of a model per token, in integer nano-dollars. */
export type Pricing = { inputNanosPerToken: number; outputNanosPerToken: number };

/**
 * Cost of an answer in integer micro-dollars, rounded up: we never under-charge ourselves, and
 * integers keep sums exact where floats would drift.
 */
export function costMicros(
  pricing: Pricing,
  usage: { promptTokens: number; completionTokens: number },
): number {
  const nanos =
    usage.promptTokens * pricing.inputNanosPerToken + usage.completionTokens * pricing.outputNanosPerToken;
  return Math.ceil(nanos / 1000);
}
