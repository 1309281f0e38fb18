import { LlmError } from './llm-error.ts';

/**
 * What one `fire` of a breaker came to, reported once per call through `onEvent`:
 * - `success`: the call resolved.
 * - `failure`: a counted failure (5xx, connection refused or reset, cut stream, …).
 * - `timeout`: a counted failure that was a deadline (ours or the provider's).
 * - `ignored`: failed, but not the model's fault, so not counted: `bad_request` (our
 *   request), `aborted` (our caller gave up), or an error thrown by the token consumer.
 * - `rate_limited`: 429 with a `Retry-After`; not counted, the model is skipped until then.
 * - `rejected`: refused by the breaker (open, or half-open with its trial in flight).
 * - `skipped`: refused because an earlier 429's `Retry-After` has not passed.
 */
export type BreakerEvent =
  | 'success'
  | 'failure'
  | 'timeout'
  | 'ignored'
  | 'rate_limited'
  | 'rejected'
  | 'skipped';

/**
 * Classifies an error thrown by a guarded call. Providers throw `LlmError` for every failure
 * of theirs and rethrow an `onToken` error as is, so anything else is the consumer's.
 */
export function classifyBreakerError(error: unknown): 'failure' | 'timeout' | 'ignored' | 'rate_limited' {
  if (!(error instanceof LlmError)) return 'ignored';
  switch (error.kind) {
    case 'bad_request':
    case 'aborted':
      return 'ignored';
    case 'timeout':
      return 'timeout';
    case 'rate_limited':
      // Without a Retry-After the breaker is the only backoff we have, so it counts.
      return (error.retryAfterMs ?? 0) > 0 ? 'rate_limited' : 'failure';
    default:
      return 'failure';
  }
}

/**
 * opossum's `errorFilter`: errors that prove the model answered and the fault is ours. opossum
 * treats a filtered error as a success, so a half-open trial that ends in one closes the breaker.
 * `aborted` and `rate_limited` are deliberately not here: the rolling count skips them, but a
 * half-open trial ending in one proves nothing, so opossum re-opens the breaker as for a failure.
 */
export function isCallersFault(error: unknown): boolean {
  return !(error instanceof LlmError) || error.kind === 'bad_request';
}
