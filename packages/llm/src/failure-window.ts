/** Tunables of a rolling failure count. */
export type FailureWindowOptions = {
  /** Length of the rolling window. @defaultValue 60_000 */
  windowMs?: number;
  /** Failures inside the window that trip it. @defaultValue 5 */
  threshold?: number;
};

/** Failures counted over the last `windowMs`. */
export type FailureWindow = {
  /** Counts one failure at `now()` and says whether `threshold` failures now lie within the window. */
  record(): boolean;
  /** Failures inside the window right now. */
  count(): number;
  /** Forgets every failure (the breaker closed: old failures must not re-trip it). */
  reset(): void;
};

/**
 * Creates a rolling count of failures by timestamp: a failure at `t` counts while
 * `now() - t < windowMs`. Only the newest `threshold` timestamps are kept, which is all a
 * "`threshold` failures within `windowMs`" question needs, so memory stays bounded.
 *
 * Why not opossum's own window: opossum trips on an error percentage over bucketed stats,
 * not on an absolute count.
 *
 * @example
 * const window = createFailureWindow({ windowMs: 60_000, threshold: 5 }, Date.now);
 * if (window.record()) breaker.open();
 */
export function createFailureWindow(options: FailureWindowOptions, now: () => number): FailureWindow {
  const windowMs = options.windowMs ?? 60_000;
  const threshold = options.threshold ?? 5;
  if (!(windowMs > 0)) throw new Error('A failure window needs a positive windowMs');
  if (!(Number.isInteger(threshold) && threshold > 0)) {
    throw new Error('A failure window needs a positive integer threshold');
  }
  let failures: number[] = [];

  function prune(at: number): void {
    while (failures.length > 0 && at - (failures[0] ?? at) >= windowMs) failures.shift();
  }

  return {
    record: function recordFailure() {
      const at = now();
      prune(at);
      failures.push(at);
      if (failures.length > threshold) failures.shift();
      return failures.length >= threshold;
    },
    count: function countFailures() {
      prune(now());
      return failures.length;
    },
    reset: function resetFailures() {
      failures = [];
    },
  };
}
