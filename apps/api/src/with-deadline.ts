/** A dependency did not answer in time: answered 503 (`dependency_unavailable`), not 500. */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took over ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Rejects with a {@link DeadlineError} if `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
