import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../app-error.ts';

/** Limits of an {@link createOverloadGuard}. */
export type OverloadOptions = {
  /** Requests in progress in this process above which new guarded requests are refused. */
  maxInProgress: number;
  /** Recent event-loop delay (ms) above which the gate closes; it reopens below half of it (hysteresis). */
  maxEventLoopDelayMs: number;
};

/** What the guard reads; injected so the decision is testable without real timing. */
export type OverloadDeps = {
  /** The recent event-loop delay in ms (e.g. p99 of a short `monitorEventLoopDelay` window). */
  eventLoopDelayMs: () => number;
  /** Called once per refusal, e.g. to count it in `assistant_overload_refusals_total{reason}`. */
  onRefusal?: (reason: OverloadReason) => void;
  /** Source of jitter in [0, 1); `Math.random` by default. */
  random?: () => number;
};

export type OverloadReason = 'in_progress' | 'event_loop_delay';

/**
 * Admission gate: refuses at once (503 `overloaded`, `Retry-After` 1–2 s) when this process is saturated,
 * before any await, so a spike is answered politely instead of queueing until sockets time out.
 */
export function createOverloadGuard(options: OverloadOptions, deps: OverloadDeps) {
  const random = deps.random ?? Math.random;
  let inProgress = 0;
  let lagging = false;

  /** The reason to refuse now, or undefined to admit. Pure apart from the hysteresis flag. */
  function refusalReason(): OverloadReason | undefined {
    if (inProgress >= options.maxInProgress) return 'in_progress';
    const delay = deps.eventLoopDelayMs();
    // Close above the limit, reopen only below half of it: avoids flapping around the threshold.
    if (lagging) lagging = delay > options.maxEventLoopDelayMs / 2;
    else lagging = delay > options.maxEventLoopDelayMs;
    return lagging ? 'event_loop_delay' : undefined;
  }

  const middleware: MiddlewareHandler<AppEnv> = async function overloadGuard(_c, next) {
    const reason = refusalReason();
    if (reason) {
      deps.onRefusal?.(reason);
      throw new AppError('overloaded', `server overloaded (${reason}); retry shortly`, {
        status: 503,
        retryAfter: 1 + Math.floor(random() * 2),
      });
    }
    inProgress += 1;
    try {
      await next();
    } finally {
      inProgress -= 1;
    }
  };

  return { middleware, refusalReason, inProgress: () => inProgress };
}
