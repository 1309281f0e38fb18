import type { Logger, Metrics } from '@assistant/telemetry';
import { pickRequestId } from '@assistant/telemetry';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';

/** Deps of {@link createRequestContext}. */
export type RequestContextDeps = { logger: Logger; metrics: Metrics; newId: () => string; now: () => number };

/**
 * Gives every request an id (the caller's `X-Request-Id` if sane), echoes it on the response,
 * and records duration per route pattern (never per raw path: ids would explode the series).
 */
export function createRequestContext(deps: RequestContextDeps): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    const started = deps.now();
    const requestId = pickRequestId(c.req.header('x-request-id'), deps.newId);
    c.set('requestId', requestId);
    c.header('X-Request-Id', requestId);
    await next();
    // onError responses pass through here too, so the header is set on errors as well.
    c.res.headers.set('X-Request-Id', requestId);
    const seconds = (deps.now() - started) / 1000;
    const route = c.req.routePath || 'unmatched';
    deps.metrics.httpRequestDuration.observe(
      { method: c.req.method, route, status: String(c.res.status) },
      seconds,
    );
    deps.logger.debug({ requestId, method: c.req.method, route, status: c.res.status, seconds }, 'request');
  };
}
