import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BreakerEvent } from './breaker-outcome.ts';
import { type Breaker, type BreakerOptions, type BreakerState, createBreaker } from './circuit-breaker.ts';
import { LlmError, type LlmErrorKind } from './llm-error.ts';

const who = { provider: 'endpoint', model: 'primary' } as const;

function llmError(kind: LlmErrorKind, extra: { retryAfterMs?: number } = {}): LlmError {
  return new LlmError(kind, `fake ${kind}`, { ...who, retryable: kind !== 'bad_request', ...extra });
}

/** A fake upstream that counts the calls that reached it; each call's fate is chosen by the test. */
function createCountingUpstream() {
  let calls = 0;
  const signals: AbortSignal[] = [];
  const pending: { resolve(value: string): void; reject(error: unknown): void }[] = [];
  const reach = (signal: AbortSignal) => {
    calls++;
    signals.push(signal);
  };
  return {
    calls: () => calls,
    signals,
    pending,
    ok: async (signal: AbortSignal) => {
      reach(signal);
      return 'answer';
    },
    failing:
      (kind: LlmErrorKind = 'unavailable', extra: { retryAfterMs?: number } = {}) =>
      async (signal: AbortSignal): Promise<string> => {
        reach(signal);
        throw llmError(kind, extra);
      },
    /** Stays pending until the test settles it; rejects as `aborted` when its signal aborts. */
    held: (signal: AbortSignal) => {
      reach(signal);
      return new Promise<string>((resolve, reject) => {
        pending.push({ resolve, reject });
        signal.addEventListener('abort', () => reject(llmError('aborted')), { once: true });
      });
    },
  };
}

let breaker: Breaker;
let upstream: ReturnType<typeof createCountingUpstream>;
let states: BreakerState[];
let events: BreakerEvent[];

/** (Re)creates the breaker under test; call after `vi.useFakeTimers()` so opossum's timers are fake. */
function start(options: Partial<BreakerOptions> = {}): Breaker {
  breaker?.close();
  states = [];
  events = [];
  breaker = createBreaker(
    { ...who, ...options },
    {
      onStateChange: (name, state) => {
        expect(name).toBe('endpoint:primary');
        states.push(state);
      },
      onEvent: (_name, event) => void events.push(event),
    },
  );
  return breaker;
}

async function failTimes(n: number, gapMs = 0, kind: LlmErrorKind = 'unavailable'): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (i > 0 && gapMs > 0) await vi.advanceTimersByTimeAsync(gapMs);
    await expect(breaker.fire(upstream.failing(kind))).rejects.toMatchObject({ kind });
  }
}

async function openBreaker(): Promise<void> {
  await failTimes(5);
  expect(breaker.state()).toBe('open');
}

beforeEach(() => {
  vi.useFakeTimers();
  upstream = createCountingUpstream();
  start();
});

afterEach(() => {
  breaker.close();
  vi.useRealTimers();
});

describe('createBreaker: opening', () => {
  it('stays closed after 4 failures and opens on the 5th within 60 s', async () => {
    await failTimes(4, 14_000);
    expect(breaker.state()).toBe('closed');
    expect(breaker.recentFailures()).toBe(4);
    await vi.advanceTimersByTimeAsync(14_000); // the 5th lands at 56 s
    await expect(breaker.fire(upstream.failing())).rejects.toMatchObject({ kind: 'unavailable' });
    expect(breaker.state()).toBe('open');
    expect(states).toEqual(['closed', 'open']);
  });

  it('does not open when the failures are spread over more than 60 s', async () => {
    await failTimes(10, 16_000); // never more than 4 inside any 60 s
    expect(breaker.state()).toBe('closed');
    expect(breaker.recentFailures()).toBe(4);
  });

  it('lets a failure expire exactly 60 s after it happened', async () => {
    await failTimes(4, 15_000); // at 0, 15, 30, 45 s
    await vi.advanceTimersByTimeAsync(15_000); // 60 s: the first one has left the window
    await failTimes(1);
    expect(breaker.state()).toBe('closed');
    await vi.advanceTimersByTimeAsync(1_000);
    await failTimes(1); // 15, 30, 45, 60, 61 s
    expect(breaker.state()).toBe('open');
  });

  it('counts timeouts: the deadline aborts the call and fails it with timeout', async () => {
    start({ timeoutMs: 1_000 });
    const run = breaker.fire(upstream.held);
    const settled = expect(run).rejects.toMatchObject({
      kind: 'timeout',
      provider: 'endpoint',
      retryable: true,
    });
    await vi.advanceTimersByTimeAsync(1_000);
    await settled;
    expect(upstream.signals[0]?.aborted).toBe(true);
    expect(breaker.recentFailures()).toBe(1);
    expect(events).toEqual(['timeout']);
  });

  it('does not count bad_request and rethrows it as is', async () => {
    await failTimes(10, 0, 'bad_request');
    expect(breaker.state()).toBe('closed');
    expect(breaker.recentFailures()).toBe(0);
    expect(events).toEqual(Array(10).fill('ignored'));
  });

  it('does not count caller aborts or errors thrown by the token consumer', async () => {
    const boom = new Error('Redis is down');
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController();
      const run = breaker.fire(upstream.held, controller.signal);
      controller.abort();
      await expect(run).rejects.toMatchObject({ kind: 'aborted' });
      await expect(
        breaker.fire(async () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
    }
    expect(breaker.state()).toBe('closed');
    expect(breaker.recentFailures()).toBe(0);
  });

  it('does not call an upstream for a caller that already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(breaker.fire(upstream.ok, controller.signal)).rejects.toMatchObject({ kind: 'aborted' });
    expect(upstream.calls()).toBe(0);
  });
});

describe('createBreaker: open and half-open', () => {
  it('fails fast while open without calling the upstream', async () => {
    await openBreaker();
    await vi.advanceTimersByTimeAsync(10_000);
    const error = await breaker.fire(upstream.ok).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error).toMatchObject({
      kind: 'unavailable',
      breakerOpen: true,
      skipped: 'breaker_open',
      retryable: true,
      retryAfterMs: 20_000,
    });
    await vi.advanceTimersByTimeAsync(19_999);
    await expect(breaker.fire(upstream.ok)).rejects.toMatchObject({ breakerOpen: true });
    expect(upstream.calls()).toBe(5);
    expect(events.slice(5)).toEqual(['rejected', 'rejected']);
  });

  it('after 30 s lets exactly one trial through and rejects concurrent calls; success closes', async () => {
    await openBreaker();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(breaker.state()).toBe('half_open');

    const trial = breaker.fire(upstream.held);
    const concurrent = await Promise.allSettled([breaker.fire(upstream.ok), breaker.fire(upstream.ok)]);
    expect(concurrent.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(concurrent[0]).toMatchObject({ reason: { breakerOpen: true, kind: 'unavailable' } });
    expect(upstream.calls()).toBe(6); // 5 failures + the one trial

    upstream.pending[0]?.resolve('trial answer');
    await expect(trial).resolves.toBe('trial answer');
    expect(breaker.state()).toBe('closed');
    await expect(breaker.fire(upstream.ok)).resolves.toBe('answer');
    expect(states).toEqual(['closed', 'open', 'half_open', 'closed']);
  });

  it('re-opens when the trial fails, for another 30 s', async () => {
    await openBreaker();
    await vi.advanceTimersByTimeAsync(30_000);
    await expect(breaker.fire(upstream.failing('upstream_error'))).rejects.toMatchObject({
      kind: 'upstream_error',
    });
    expect(breaker.state()).toBe('open');
    await vi.advanceTimersByTimeAsync(29_999);
    await expect(breaker.fire(upstream.ok)).rejects.toMatchObject({ breakerOpen: true });
    await vi.advanceTimersByTimeAsync(1);
    await expect(breaker.fire(upstream.ok)).resolves.toBe('answer');
    expect(states).toEqual(['closed', 'open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('re-opens when the trial times out', async () => {
    start({ timeoutMs: 2_000 });
    await openBreaker();
    await vi.advanceTimersByTimeAsync(30_000);
    const trial = expect(breaker.fire(upstream.held)).rejects.toMatchObject({ kind: 'timeout' });
    await vi.advanceTimersByTimeAsync(2_000);
    await trial;
    expect(breaker.state()).toBe('open');
  });

  it('closes when the trial ends in bad_request: the model answered', async () => {
    await openBreaker();
    await vi.advanceTimersByTimeAsync(30_000);
    await expect(breaker.fire(upstream.failing('bad_request'))).rejects.toMatchObject({
      kind: 'bad_request',
    });
    expect(breaker.state()).toBe('closed');
  });

  it('does not re-trip on old failures after closing', async () => {
    await failTimes(5, 1_000); // at 0..4 s: open
    await vi.advanceTimersByTimeAsync(30_000);
    await expect(breaker.fire(upstream.ok)).resolves.toBe('answer'); // 34 s: closed
    expect(breaker.recentFailures()).toBe(0);
    await failTimes(4, 1_000); // all within 60 s of the old five
    expect(breaker.state()).toBe('closed');
    await failTimes(1);
    expect(breaker.state()).toBe('open');
  });
});

describe('createBreaker: 429 Retry-After', () => {
  it('skips the model until Retry-After passes, without counting a failure', async () => {
    await expect(
      breaker.fire(upstream.failing('rate_limited', { retryAfterMs: 7_000 })),
    ).rejects.toMatchObject({
      kind: 'rate_limited',
    });
    await vi.advanceTimersByTimeAsync(6_000);
    await expect(breaker.fire(upstream.ok)).rejects.toMatchObject({
      kind: 'rate_limited',
      skipped: 'retry_after',
      breakerOpen: false,
      retryAfterMs: 1_000,
    });
    expect(upstream.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(breaker.fire(upstream.ok)).resolves.toBe('answer');
    expect(breaker.recentFailures()).toBe(0);
    expect(events).toEqual(['rate_limited', 'skipped', 'success']);
  });

  it('never opens on 429s that carry Retry-After', async () => {
    for (let i = 0; i < 6; i++) {
      await expect(
        breaker.fire(upstream.failing('rate_limited', { retryAfterMs: 100 })),
      ).rejects.toMatchObject({
        kind: 'rate_limited',
      });
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(breaker.state()).toBe('closed');
  });

  it('counts a 429 without Retry-After as a failure', async () => {
    await failTimes(5, 0, 'rate_limited');
    expect(breaker.state()).toBe('open');
  });

  it('caps a huge Retry-After at maxRetryAfterMs', async () => {
    start({ maxRetryAfterMs: 5_000 });
    await expect(
      breaker.fire(upstream.failing('rate_limited', { retryAfterMs: 86_400_000 })),
    ).rejects.toMatchObject({ kind: 'rate_limited' });
    await vi.advanceTimersByTimeAsync(5_000);
    await expect(breaker.fire(upstream.ok)).resolves.toBe('answer');
  });
});

describe('createBreaker: lifecycle', () => {
  it('reports its initial state and refuses calls once closed', async () => {
    expect(states).toEqual(['closed']);
    breaker.close();
    await expect(breaker.fire(upstream.ok)).rejects.toMatchObject({ kind: 'unavailable', retryable: false });
    expect(upstream.calls()).toBe(0);
  });
});
