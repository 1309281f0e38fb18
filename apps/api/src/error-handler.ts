import type { ErrorBody } from '@assistant/contracts';
import { isDatabaseUnavailable } from '@assistant/db';
import type { Logger } from '@assistant/telemetry';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { AppError } from './app-error.ts';
import { DeadlineError } from './with-deadline.ts';

const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

/** Errors of Redis or Postgres being unreachable (or too slow): answered 503, not 500. */
function isDependencyDown(error: unknown): boolean {
  if (error instanceof DeadlineError || isDatabaseUnavailable(error)) return true;
  // Walk the cause chain: drizzle and our own wrappers keep the driver's error as `cause`.
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH)$/.test(code)
    ) {
      return true;
    }
    if (
      /Stream isn't writeable|Connection is closed|Command timed out|enableOfflineQueue|ECONNREFUSED|Reached the max retries/.test(
        e.message,
      )
    ) {
      return true;
    }
  }
  return false;
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) {
    const first = error.issues[0];
    const where = first?.path.length ? `${first.path.join('.')}: ` : '';
    return new AppError('invalid_request', `${where}${first?.message ?? 'invalid request'}`, {
      status: 400,
      details: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  if (error instanceof HTTPException && error.status < 500) {
    return new AppError('invalid_request', error.message || 'bad request', { status: error.status as 400 });
  }
  if (isDependencyDown(error)) {
    return new AppError('dependency_unavailable', 'a dependency is unavailable, retry shortly', {
      status: 503,
      retryAfter: DEPENDENCY_RETRY_AFTER_SECONDS,
      cause: error,
    });
  }
  return new AppError('internal_error', 'internal error', { status: 500, cause: error });
}

/** The one place errors become HTTP responses: `app.onError(createErrorHandler(logger))`. */
export function createErrorHandler(logger: Logger) {
  return function handleError(error: unknown, c: Context) {
    const appError = toAppError(error);
    const requestId = (c.get('requestId') as string | undefined) ?? 'unknown';
    if (appError.status >= 500) {
      logger.error({ err: appError.cause ?? error, requestId, code: appError.code }, 'request failed');
    }
    const body: ErrorBody = {
      error: {
        code: appError.code,
        message: appError.message,
        request_id: requestId,
        ...(appError.details === undefined ? {} : { details: appError.details }),
      },
    };
    if (appError.retryAfter !== undefined) c.header('Retry-After', String(Math.ceil(appError.retryAfter)));
    for (const [name, value] of Object.entries(appError.headers ?? {})) c.header(name, value);
    return c.json(body, appError.status);
  };
}
