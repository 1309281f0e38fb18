import { describe, expect, it } from 'vitest';
import { isLoopbackUrl } from './loopback.ts';
import { loadScenarioFile } from './scenarios.ts';
import { transportErrorKind } from './transport-error.ts';

describe('isLoopbackUrl', () => {
  it('accepts loopback origins only', () => {
    expect(isLoopbackUrl('http://127.0.0.1:3000')).toBe(true);
    expect(isLoopbackUrl('http://localhost:3000/')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:3000')).toBe(true);
    expect(isLoopbackUrl('http://10.0.0.5:3000')).toBe(false);
    expect(isLoopbackUrl('http://127.0.0.1.example.com')).toBe(false);
    expect(isLoopbackUrl('file:///etc/passwd')).toBe(false);
    expect(isLoopbackUrl('not a url')).toBe(false);
  });
});

describe('transportErrorKind', () => {
  it('names the socket error code undici puts on the cause', () => {
    const error = new TypeError('fetch failed', {
      cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
    });
    expect(transportErrorKind(error)).toBe('ECONNRESET');
  });

  it('tells the run cutting a request off from a server fault', () => {
    const controller = new AbortController();
    controller.abort();
    expect(transportErrorKind(new DOMException('aborted', 'AbortError'), controller.signal)).toBe(
      'cut_off_at_time_limit',
    );
  });
});

describe('scenarios.json', () => {
  it('validates and names every scenario the k6 scripts run', () => {
    const file = loadScenarioFile();
    expect(Object.keys(file.scenarios).sort()).toEqual(
      ['cache-hit', 'sse', 'soak', 'spike', 'submit-poll', 'users-1000'].sort(),
    );
  });
});
