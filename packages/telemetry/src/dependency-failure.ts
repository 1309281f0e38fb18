import { DeadlineError } from './deadline.ts';

/** Which dependency an error says is down or too slow. */
export type DependencyFailure = 'redis' | 'postgres' | 'timeout';

// ioredis' own error classes (ioredis/built/errors, redis-errors) for a command it gave up on.
const REDIS_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'AbortError', 'ClusterAllFailedError']);
// ioredis rejects commands on a lost connection with plain `Error`s whose only mark is the
// message (ioredis/built/utils CONNECTION_CLOSED_ERROR_MSG, the offline queue, commandTimeout).
const REDIS_MESSAGE =
  /^(Connection is closed\.|Stream isn't writeable and enableOfflineQueue options is false|Command timed out)$/;

// postgres.js connection states and SQLSTATEs of a server that is down, restarting or
// unreachable. Errors about the query itself (constraint violations, syntax) are not here:
// retrying those cannot help.
const POSTGRES_CODES = new Set([
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08001',
  '08003',
  '08004',
  '08006',
]);
// Socket errors. ioredis never hands these to a command (it reports them as the messages
// above), postgres.js does: a bare socket error is a Postgres failure.
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

const MAX_DEPTH = 5;

function failureOfOne(e: Error): DependencyFailure | undefined {
  if (e instanceof DeadlineError) return 'timeout';
  if (REDIS_ERROR_NAMES.has(e.name) || REDIS_MESSAGE.test(e.message)) return 'redis';
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (POSTGRES_CODES.has(code) || SOCKET_CODES.has(code))) return 'postgres';
  return undefined;
}

/**
 * The one classifier of dependency failures: which of Redis or Postgres could not be reached
 * (or a {@link DeadlineError}: a dependency too slow), or `undefined` for any other error
 * (a bug, a refused query). Walks the `cause` chain (drizzle and our wrappers keep the
 * driver's error as `cause`) and the `errors` of an AggregateError (one per address tried).
 *
 * @example
 * if (dependencyFailureOf(error) !== undefined) return 503;
 */
export function dependencyFailureOf(error: unknown, depth = 0): DependencyFailure | undefined {
  for (let e: unknown = error, d = depth; e instanceof Error && d < MAX_DEPTH; e = e.cause, d++) {
    const failure = failureOfOne(e);
    if (failure) return failure;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const innerFailure = dependencyFailureOf(inner, d + 1);
        if (innerFailure) return innerFailure;
      }
    }
  }
  return undefined;
}

/** Whether `error` means Postgres could not be reached, as opposed to a query it refused. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return dependencyFailureOf(error) === 'postgres';
}
