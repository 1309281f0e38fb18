import { AppError } from '../app-error.ts';

/** Limits of {@link createBacklogGate}. */
export type BacklogGateOptions = {
  /**
   * Answer jobs waiting to start (waiting, prioritized and delayed, across the fleet) at which
   * new questions are refused; 0 turns the gate off.
   */
  maxWaiting: number;
  /** How old the fleet's count may get before it is read again, ms. */
  refreshMs: number;
};

/** What the gate reads and reports; injected so it is testable without a queue. */
export type BacklogGateDeps = {
  /** The answer queue's jobs waiting to start, as Redis holds them (one round trip). */
  readBacklog: () => Promise<number>;
  now: () => number;
  /** Called once per refusal, e.g. to count it in `assistant_overload_refusals_total{reason="backlog"}`. */
  onRefusal?: () => void;
  /** Source of jitter in [0, 1); `Math.random` by default. */
  random?: () => number;
};

/**
 * Admission by backlog: a question that would queue behind `maxWaiting` others is refused at once
 * (503 `overloaded`, `Retry-After` 2–5 s) instead of being accepted and answered a minute later,
 * or not within the client's patience at all. Size `maxWaiting` as the fleet's drain rate times
 * the longest wait worth accepting.
 *
 * The check never waits on Redis: it uses the last count read (at most `refreshMs` old, read in
 * the background, one read at a time) plus the questions this process let through since, counted
 * when they pass the check (not when their job lands, so the submits in progress of a burst count
 * too), so a burst between two reads cannot overshoot by more than what the other API processes
 * let through meanwhile. A question let through that is then refused or fails stays counted
 * until the next read.
 * Until the first read, and when a read fails, the last figure stands (admission itself fails
 * closed when Redis is down).
 */
export function createBacklogGate(options: BacklogGateOptions, deps: BacklogGateDeps) {
  const random = deps.random ?? Math.random;
  let known = 0;
  let acceptedSinceRead = 0;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading = false;

  function refresh(): void {
    if (reading) return;
    reading = true;
    const started = deps.now();
    const acceptedBefore = acceptedSinceRead;
    deps.readBacklog().then(
      (count) => {
        known = count;
        // Questions accepted while the read was in flight may be missing from its count.
        acceptedSinceRead -= acceptedBefore;
        readAt = started;
        reading = false;
      },
      () => {
        readAt = started;
        reading = false;
      },
    );
  }

  return {
    /** Throws 503 `overloaded` when the backlog is full, else counts the question in; call before admitting a new job. */
    check(): void {
      if (options.maxWaiting === 0) return;
      if (deps.now() - readAt >= options.refreshMs) refresh();
      if (known + acceptedSinceRead < options.maxWaiting) {
        acceptedSinceRead += 1;
        return;
      }
      deps.onRefusal?.();
      throw new AppError(
        'overloaded',
        `${options.maxWaiting} questions are already waiting for a worker; retry shortly`,
        { status: 503, retryAfter: 2 + Math.floor(random() * 4) },
      );
    },
    /** The gate's current estimate of the backlog. */
    estimate: () => known + acceptedSinceRead,
  };
}

/** The backlog gate's interface. */
export type BacklogGate = ReturnType<typeof createBacklogGate>;
