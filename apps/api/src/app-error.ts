import type { ErrorCode } from '@assistant/contracts';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Options of an {@link AppError}. */
export type AppErrorOptions = {
  status: ContentfulStatusCode;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  details?: unknown;
  headers?: Record<string, string>;
  cause?: unknown;
};

/**
 * An error a route throws on purpose; `app.onError` turns it into the JSON error body. It carries
 * no stack: it is an answer, not a fault, and capturing one (source-mapped when it is printed) was
 * a large share of a refusal's CPU under a spike. A wrapped failure keeps its own in `cause`.
 */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  readonly retryAfter?: number;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions,
  ) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message, { cause: options.cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'AppError';
    this.status = options.status;
    this.retryAfter = options.retryAfter;
    this.details = options.details;
    this.headers = options.headers;
  }
}

/** The 404 every route returns for unknown ids and for ids of other users alike. */
export function notFound(what = 'resource'): AppError {
  return new AppError('not_found', `${what} not found`, { status: 404 });
}
