/** A dependency did not answer in time: classified `'timeout'` by {@link dependencyFailureOf}. */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took over ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** A per-call deadline. */
export type DeadlineOptions = {
  timeoutMs: number;
  /** The caller's own signal; aborting it aborts the call too. */
  signal?: AbortSignal | undefined;
  /** The error the call rejects with once the deadline passes (also the abort reason). */
  timeoutError: () => Error;
};

/**
 * Runs `call` with a signal of its own that aborts after `timeoutMs` (or when `signal`
 * aborts), and rejects with `timeoutError()` at the deadline even if `call` ignores its
 * signal: a provider that hangs cannot hold a breaker's trial, or a worker, forever.
 *
 * Uses `setTimeout` rather than `AbortSignal.timeout` so Vitest fake timers drive it.
 *
 * @example
 * await runWithDeadline((signal) => provider.generate({ ...req, signal }, onToken), {
 *   timeoutMs: 30_000, signal: req.signal, timeoutError: () => new Error('timeout'),
 * });
 */
export async function runWithDeadline<T>(
  call: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions,
): Promise<T> {
  const deadline = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = options.timeoutError();
      // Reject before aborting: the call's own rejection (an `aborted` error) must lose the race.
      reject(error);
      deadline.abort(error);
    }, options.timeoutMs);
  });
  const signal = options.signal ? AbortSignal.any([deadline.signal, options.signal]) : deadline.signal;
  try {
    return await Promise.race([call(signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Rejects with a {@link DeadlineError} if `promise` has not settled within `ms` (the promise
 * itself is not cancelled: use {@link runWithDeadline} for calls that take a signal).
 *
 * @example
 * const user = await withDeadline(users.byKey(hash), 2_000, 'key lookup');
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return runWithDeadline(() => promise, { timeoutMs: ms, timeoutError: () => new DeadlineError(what, ms) });
}
