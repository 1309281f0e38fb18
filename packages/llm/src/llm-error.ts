import type { LlmProviderName } from './llm-provider.ts';

/**
 * Why a generation failed:
 * - `rate_limited`: 429; wait `retryAfterMs` when given.
 * - `unavailable`: 502/503/504, connection refused or reset.
 * - `bad_request`: 4xx the provider will refuse again (bad input, unknown model).
 * - `timeout`: our `timeoutMs` deadline passed (or the upstream said 408).
 * - `truncated`: the stream ended without `data: [DONE]`; the answer is incomplete.
 * - `upstream_error`: 500, an error event mid-stream, a malformed stream, auth failures.
 * - `aborted`: the caller's signal aborted.
 */
export type LlmErrorKind =
  | 'rate_limited'
  | 'unavailable'
  | 'bad_request'
  | 'timeout'
  | 'truncated'
  | 'upstream_error'
  | 'aborted';

/**
 * Why a call was refused before it reached the provider:
 * - `breaker_open`: the model's circuit breaker is open, or half-open with its one trial in flight.
 * - `retry_after`: the model answered 429 with a `Retry-After` that has not passed yet.
 */
export type LlmSkipReason = 'breaker_open' | 'retry_after';

/** Details of an `LlmError` besides its kind and message. */
export type LlmErrorDetails = {
  provider: LlmProviderName;
  model: string;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  /** Set when the call was refused locally and never reached the provider. */
  skipped?: LlmSkipReason;
  cause?: unknown;
};

/**
 * The one error a provider throws; `retryable` steers the worker (retry, fall back, or give up).
 *
 * @example
 * if (error instanceof LlmError && error.retryable) await delay(error.retryAfterMs ?? backoff);
 */
export class LlmError extends Error {
  override readonly name = 'LlmError';
  readonly kind: LlmErrorKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly retryable: boolean;
  readonly provider: LlmProviderName;
  readonly model: string;
  /** Set when the call never reached the provider (see `LlmSkipReason`). */
  readonly skipped?: LlmSkipReason;
  /** The model's circuit breaker refused the call: fail fast, try another model. */
  readonly breakerOpen: boolean;

  constructor(kind: LlmErrorKind, message: string, details: LlmErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.retryable = details.retryable;
    this.provider = details.provider;
    this.model = details.model;
    this.breakerOpen = details.skipped === 'breaker_open';
    if (details.skipped !== undefined) this.skipped = details.skipped;
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}
