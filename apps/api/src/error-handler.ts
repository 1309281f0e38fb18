import type { ErrorBody, ErrorCode } from '@assistant/contracts';
import { dependencyFailureOf, type Logger } from '@assistant/telemetry';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { AppError } from './app-error.ts';

const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

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
  // Redis or Postgres unreachable, or too slow: 503 with Retry-After, not 500.
  if (dependencyFailureOf(error) !== undefined) {
    return new AppError('dependency_unavailable', 'a dependency is unavailable, retry shortly', {
      status: 503,
      retryAfter: DEPENDENCY_RETRY_AFTER_SECONDS,
      cause: error,
    });
  }
  return new AppError('internal_error', 'internal error', { status: 500, cause: error });
}

/**
 * The one place errors become HTTP responses: `app.onError(createErrorHandler(logger, onServerError))`.
 * `onServerError` is told the code of every 5xx (the `assistant_errors_total` count).
 */
export function createErrorHandler(logger: Logger, onServerError?: (code: ErrorCode) => void) {
  return function handleError(error: unknown, c: Context) {
    const appError = toAppError(error);
    const requestId = (c.get('requestId') as string | undefined) ?? 'unknown';
    if (appError.status >= 500) {
      // A refusal under load is the design working, counted by `onServerError` and the overload
      // metrics: a log line (and its serialised error) per refusal would cost a spike more CPU.
      if (appError.code === 'overloaded') logger.debug({ requestId, reason: appError.message }, 'refused');
      else logger.error({ err: appError.cause ?? error, requestId, code: appError.code }, 'request failed');
      onServerError?.(appError.code);
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
