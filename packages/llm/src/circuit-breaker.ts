import { runWithDeadline } from '@assistant/telemetry';
import CircuitBreaker from 'opossum';
import { type BreakerEvent, classifyBreakerError, isCallersFault } from './breaker-outcome.ts';
import { createFailureWindow } from './failure-window.ts';
import { LlmError } from './llm-error.ts';
import type { LlmProviderName } from './llm-provider.ts';

/** The state of a breaker, as logged and exported on the state gauge. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** Which model a breaker guards, and its tunables. */
export type BreakerOptions = {
  provider: LlmProviderName;
  model: string;
  /** Label for logs and metrics. @defaultValue `${provider}:${model}` */
  name?: string;
  /** Failures within `failureWindowMs` that open the breaker. @defaultValue 5 */
  failureThreshold?: number;
  /** The rolling window failures are counted in. @defaultValue 60_000 */
  failureWindowMs?: number;
  /** How long the breaker stays open before it lets one trial through. @defaultValue 30_000 */
  resetTimeoutMs?: number;
  /**
   * Deadline of one call: its signal aborts (cancelling the HTTP call) and it fails with
   * `timeout`. Keep it at most `resetTimeoutMs`, so no call started before the breaker opened
   * can still be running, and settle, during the half-open trial. @defaultValue 30_000
   */
  timeoutMs?: number;
  /** Upper bound on how long a 429's `Retry-After` sidelines the model. @defaultValue 300_000 */
  maxRetryAfterMs?: number;
};

/** Narrow logger (pino's `(fields, message)` shape). */
export type BreakerLogger = {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
};

/** Collaborators of a breaker. */
export type BreakerDeps = {
  /** Clock of the rolling window and of `Retry-After`. @defaultValue `Date.now` */
  now?: () => number;
  /** Called with the initial state at creation, then on every change (the state gauge). */
  onStateChange?: (name: string, state: BreakerState) => void;
  /**
   * Called once per `fire` with what it came to (the event counters); not for calls whose
   * signal had already aborted, nor after `close()`.
   */
  onEvent?: (name: string, event: BreakerEvent) => void;
  logger?: BreakerLogger;
};

/** A call guarded by a breaker; it must pass `signal` on to the HTTP call. */
export type GuardedCall<T> = (signal: AbortSignal) => Promise<T>;

/** A circuit breaker in front of one model. */
export type Breaker = {
  readonly name: string;
  readonly provider: LlmProviderName;
  readonly model: string;
  /**
   * Runs `call` unless the breaker or a pending `Retry-After` refuses it.
   *
   * @param signal the caller's signal; aborting it aborts the call.
   * @throws LlmError with `skipped` set (and `breakerOpen` for an open breaker) when refused,
   *   without calling `call`; `timeout` at the deadline; otherwise what `call` threw, as is.
   */
  fire<T>(call: GuardedCall<T>, signal?: AbortSignal): Promise<T>;
  state(): BreakerState;
  /** Counted failures in the rolling window right now. */
  recentFailures(): number;
  /** Stops the breaker's timers; later calls fail with `unavailable`. */
  close(): void;
};

type Action = (call: GuardedCall<unknown>, signal: AbortSignal | undefined) => Promise<unknown>;

/**
 * Creates a circuit breaker for one model on top of opossum 8.
 *
 * - Opens after `failureThreshold` counted failures within `failureWindowMs` (our own rolling
 *   count calls `open()`; opossum's percentage rule is switched off) and forgets them on close.
 * - Stays open `resetTimeoutMs`, then half-open lets exactly one trial through (opossum's
 *   `pendingClose` flag) and rejects concurrent calls; the trial's success closes it, its
 *   failure re-opens it.
 * - `bad_request` and consumer errors never count (and close a half-open breaker: the model
 *   answered); caller aborts and 429s with `Retry-After` do not count either (but re-open a
 *   half-open breaker whose trial ends in one: the trial proved nothing).
 * - A 429 with `Retry-After` skips the model until then, without touching the breaker state.
 *
 * @example
 * const breaker = createBreaker({ provider: 'endpoint', model: 'qwen2.5' }, { onStateChange, onEvent, logger });
 * const result = await breaker.fire((signal) => llm.generate({ ...req, signal }, onToken), req.signal);
 */
export function createBreaker(options: BreakerOptions, deps: BreakerDeps = {}): Breaker {
  const { provider, model } = options;
  const name = options.name ?? `${provider}:${model}`;
  const resetTimeoutMs = options.resetTimeoutMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
  const now = deps.now ?? Date.now;
  const log = { breaker: name, provider, model };
  const failures = createFailureWindow(
    { windowMs: options.failureWindowMs ?? 60_000, threshold: options.failureThreshold ?? 5 },
    now,
  );
  let openedAt = 0;
  let retryAfterUntil = 0;

  const guardedCall: Action = function guardedCall(call, signal) {
    return runWithDeadline(call, {
      timeoutMs,
      signal,
      timeoutError: () =>
        new LlmError('timeout', `The LLM call passed its ${timeoutMs} ms deadline.`, {
          provider,
          model,
          retryable: true,
        }),
    });
  };

  const circuit = new CircuitBreaker<Parameters<Action>, unknown>(guardedCall, {
    name,
    resetTimeout: resetTimeoutMs,
    // Our deadline runs per call; opossum's timeout cannot abort just the call that timed out.
    timeout: false,
    // Never trip on opossum's percentage: >100% is impossible and the volume is never reached.
    errorThresholdPercentage: 100,
    volumeThreshold: Number.MAX_SAFE_INTEGER,
    errorFilter: isCallersFault,
    // Its stats rotate every 10 s (unref'd); nothing here reads them.
    rollingCountTimeout: 60_000,
    rollingCountBuckets: 6,
    enableSnapshots: false,
  });

  function changeState(state: BreakerState): void {
    deps.onStateChange?.(name, state);
    if (state === 'open') deps.logger?.warn({ ...log, state, resetTimeoutMs }, 'LLM breaker opened');
    else deps.logger?.info({ ...log, state }, `LLM breaker ${state === 'closed' ? 'closed' : 'half-open'}`);
  }

  circuit.on('open', () => {
    openedAt = now();
    changeState('open');
  });
  circuit.on('halfOpen', () => changeState('half_open'));
  circuit.on('close', () => {
    failures.reset();
    changeState('closed');
  });
  // Synchronous with the failure, before the caller hears of it: the 5th failure opens the
  // breaker before any other call can slip through.
  circuit.on('failure', (error) => {
    const outcome = classifyBreakerError(error);
    if ((outcome === 'failure' || outcome === 'timeout') && failures.record() && circuit.closed) {
      circuit.open();
    }
    if (outcome === 'rate_limited' && error instanceof LlmError) {
      const waitMs = Math.min(error.retryAfterMs ?? 0, maxRetryAfterMs);
      retryAfterUntil = Math.max(retryAfterUntil, now() + waitMs);
      deps.logger?.info(
        { ...log, retryAfterMs: waitMs },
        'LLM rate limited; skipping the model until Retry-After',
      );
    }
  });
  deps.onStateChange?.(name, 'closed');

  function report(event: BreakerEvent): void {
    deps.onEvent?.(name, event);
  }

  function refusal(
    message: string,
    skipped: 'breaker_open' | 'retry_after',
    retryAfterMs?: number,
  ): LlmError {
    return new LlmError(skipped === 'retry_after' ? 'rate_limited' : 'unavailable', message, {
      provider,
      model,
      retryable: true,
      skipped,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  function state(): BreakerState {
    if (circuit.opened) return 'open';
    return circuit.halfOpen ? 'half_open' : 'closed';
  }

  return {
    name,
    provider,
    model,
    state,
    recentFailures: () => failures.count(),
    fire: async function fireBreaker<T>(call: GuardedCall<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) {
        throw new LlmError('aborted', 'The generation was aborted.', { provider, model, retryable: false });
      }
      if (circuit.isShutdown) {
        throw new LlmError('unavailable', `LLM breaker ${name} is shut down.`, {
          provider,
          model,
          retryable: false,
        });
      }
      const waitMs = retryAfterUntil - now();
      if (waitMs > 0) {
        report('skipped');
        throw refusal(`${name} asked us to retry after ${waitMs} ms.`, 'retry_after', waitMs);
      }
      try {
        const result = (await circuit.fire(call, signal)) as T;
        report('success');
        return result;
      } catch (error) {
        if (isOpenRejection(error)) {
          report('rejected');
          if (circuit.halfOpen)
            throw refusal(`LLM breaker ${name} is half-open; its trial is in flight.`, 'breaker_open');
          const remainingMs = Math.max(0, openedAt + resetTimeoutMs - now());
          throw refusal(`LLM breaker ${name} is open.`, 'breaker_open', remainingMs);
        }
        report(classifyBreakerError(error));
        throw error;
      }
    },
    close: function closeBreaker() {
      circuit.shutdown();
    },
  };
}

/** opossum rejects calls of an open (or busy half-open) breaker with its own `EOPENBREAKER`. */
function isOpenRejection(error: unknown): boolean {
  return (
    error instanceof Error &&
    CircuitBreaker.isOurError(error) &&
    (error as { code?: unknown }).code === 'EOPENBREAKER'
  );
}
