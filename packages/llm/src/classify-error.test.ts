import { describe, expect, it } from 'vitest';
import { type FailureContext, toLlmError } from './classify-error.ts';
import { LlmError } from './llm-error.ts';
import type { ResponseProbe } from './response-probe.ts';

function context(status: number | undefined, headers: Record<string, string> = {}): FailureContext {
  const probe: ResponseProbe = {
    fetch,
    status: () => status,
    headers: () => new Headers(headers),
    sawDone: () => false,
    requests: () => 1,
  };
  return { provider: 'endpoint', model: 'm', probe, timedOut: false, callerAborted: false, now: 0 };
}

describe('toLlmError', () => {
  it.each([
    [400, 'bad_request', false],
    [401, 'upstream_error', false],
    [404, 'bad_request', false],
    [408, 'timeout', true],
    [422, 'bad_request', false],
    [500, 'upstream_error', true],
    [502, 'unavailable', true],
    [503, 'unavailable', true],
    [504, 'unavailable', true],
    [507, 'upstream_error', true],
  ])('maps HTTP %i to %s (retryable %s)', (status, kind, retryable) => {
    expect(toLlmError(new Error('x'), context(status))).toMatchObject({ kind, retryable, status });
  });

  it('keeps Retry-After on any status', () => {
    expect(toLlmError(new Error('x'), context(503, { 'retry-after': '3' })).retryAfterMs).toBe(3000);
  });

  it('lets our deadline and the caller abort explain any error', () => {
    expect(toLlmError(new Error('x'), { ...context(503), timedOut: true }).kind).toBe('timeout');
    expect(toLlmError(new Error('x'), { ...context(undefined), callerAborted: true }).kind).toBe('aborted');
  });

  it('treats socket failures as unavailable and unknown errors as not retryable', () => {
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('read'), { code: 'ECONNRESET' }),
    });
    expect(toLlmError(reset, context(undefined))).toMatchObject({ kind: 'unavailable', retryable: true });
    expect(toLlmError(new RangeError('bug'), context(undefined))).toMatchObject({
      kind: 'upstream_error',
      retryable: false,
    });
  });

  it('passes an LlmError through untouched', () => {
    const error = new LlmError('truncated', 'cut', { provider: 'hf', model: 'm', retryable: true });
    expect(toLlmError(error, context(200))).toBe(error);
  });
});
