import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../app-error.ts';
import type { StreamTokens } from '../stream-token.ts';

const EVENTS_PATH = /^\/v1\/queries\/([^/]+)\/events$/;

const messages = {
  stream_token_expired: 'the stream token expired: GET the query again for a fresh events link',
  stream_token_invalid: 'the stream token is not valid for this query',
} as const;

/**
 * Authenticates `GET /v1/queries/:id/events?token=…` by its signed stream token (browsers'
 * `EventSource` cannot send `Authorization`) and every other request by `userAuth`. The token is
 * accepted on that one route only, and only when no `Authorization` header is sent.
 */
export function createStreamTokenAuth(
  tokens: Pick<StreamTokens, 'verify'>,
  userAuth: MiddlewareHandler<AppEnv>,
): MiddlewareHandler<AppEnv> {
  return async function streamTokenAuth(c, next) {
    const token = c.req.query('token');
    const events = c.req.method === 'GET' ? EVENTS_PATH.exec(c.req.path) : null;
    if (token === undefined || !events || c.req.header('authorization') !== undefined) {
      return userAuth(c, next);
    }
    const verified = tokens.verify(token, events[1]!);
    if ('refused' in verified) {
      throw new AppError(verified.refused, messages[verified.refused], {
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer realm="assistant"' },
      });
    }
    c.set('streamUserId', verified.userId);
    await next();
  };
}
