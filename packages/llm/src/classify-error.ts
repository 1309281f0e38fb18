import {
  InferenceClientInputError,
  InferenceClientProviderApiError,
  InferenceClientRoutingError,
} from '@huggingface/inference';
import { LlmError, type LlmErrorKind } from './llm-error.ts';
import type { LlmProviderName } from './llm-provider.ts';
import type { ResponseProbe } from './response-probe.ts';
import { parseRetryAfter } from './retry-after.ts';

/** What the provider knew when the generation failed. */
export type FailureContext = {
  provider: LlmProviderName;
  model: string;
  probe: ResponseProbe;
  /** Our `timeoutMs` deadline fired. */
  timedOut: boolean;
  /** The caller's signal aborted. */
  callerAborted: boolean;
  now: number;
};

type Verdict = { kind: LlmErrorKind; retryable: boolean };

/** HTTP statuses that need more than "4xx is the caller's fault, 5xx is the server's". */
const statusVerdicts: Record<number, Verdict> = {
  401: { kind: 'upstream_error', retryable: false }, // a bad token: retrying cannot help, falling back can
  403: { kind: 'upstream_error', retryable: false },
  408: { kind: 'timeout', retryable: true },
  429: { kind: 'rate_limited', retryable: true },
  500: { kind: 'upstream_error', retryable: true },
  502: { kind: 'unavailable', retryable: true },
  503: { kind: 'unavailable', retryable: true },
  504: { kind: 'unavailable', retryable: true },
};

function verdictForStatus(status: number): Verdict {
  return (
    statusVerdicts[status] ??
    (status >= 500 ? { kind: 'upstream_error', retryable: true } : { kind: 'bad_request', retryable: false })
  );
}

/** Socket-level failures (undici puts them in `cause.code`): the server is not there right now. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    // undici: `fetch failed` before headers, `terminated` when the body is cut.
    if (e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated')) return true;
  }
  return false;
}

/**
 * Turns whatever a generation threw into an `LlmError`. Order matters: our own deadline and
 * the caller's abort explain any error that follows them, then the HTTP status seen by the
 * probe, then what the client and the socket said.
 */
export function toLlmError(error: unknown, context: FailureContext): LlmError {
  if (error instanceof LlmError) return error;
  const who = { provider: context.provider, model: context.model, cause: error };
  const message = error instanceof Error ? error.message : String(error);

  if (context.timedOut)
    return new LlmError('timeout', 'The LLM did not finish in time.', { ...who, retryable: true });
  if (context.callerAborted)
    return new LlmError('aborted', 'The generation was aborted.', { ...who, retryable: false });

  const status = context.probe.status();
  if (status !== undefined && status >= 400) {
    const verdict = verdictForStatus(status);
    const retryAfterMs = parseRetryAfter(context.probe.headers()?.get('retry-after'), context.now);
    return new LlmError(verdict.kind, `LLM answered HTTP ${status}: ${message}`, {
      ...who,
      retryable: verdict.retryable,
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (error instanceof InferenceClientProviderApiError) {
    // A 2xx whose body went wrong: an `error` event mid-stream, or not an event stream at all.
    return new LlmError('upstream_error', message, {
      ...who,
      retryable: true,
      status: error.httpResponse.status,
    });
  }
  if (error instanceof InferenceClientInputError || error instanceof InferenceClientRoutingError) {
    return new LlmError('bad_request', message, { ...who, retryable: false });
  }
  if (isNetworkError(error)) {
    return new LlmError('unavailable', `LLM connection failed: ${message}`, { ...who, retryable: true });
  }
  if (error instanceof SyntaxError) {
    return new LlmError('upstream_error', `LLM sent malformed JSON: ${message}`, { ...who, retryable: true });
  }
  return new LlmError('upstream_error', message, { ...who, retryable: false });
}
