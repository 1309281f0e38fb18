import type { Me } from '@assistant/contracts';
import { createHealthRoutes, type Logger, type Metrics, type ReadinessCheck } from '@assistant/telemetry';
import { Hono } from 'hono';
import type { AppEnv } from './app-env.ts';
import { AppError } from './app-error.ts';
import { createErrorHandler } from './error-handler.ts';
import { BODY_LIMITS, limitBody } from './json-body.ts';
import type { KeyRevocations } from './key-revocations.ts';
import { createAdminAuth, createUserAuth, type KeyLookup } from './middleware/auth.ts';
import { createOverloadGuard, type OverloadOptions } from './middleware/overload.ts';
import { createRequestContext } from './middleware/request-context.ts';
import { createStreamTokenAuth } from './middleware/stream-token-auth.ts';
import { buildOpenApi, renderDocsPage } from './openapi.ts';
import { type AdminRoutesDeps, createAdminRoutes } from './routes/admin.ts';
import { type AdminExperimentRoutesDeps, createAdminExperimentRoutes } from './routes/admin-experiments.ts';
import { type AdminFlagRoutesDeps, createAdminFlagRoutes } from './routes/admin-flags.ts';
import { createBrowserAppRoutes } from './routes/browser-app.ts';
import {
  createAdminFeedbackRoutes,
  createFeedbackRoutes,
  type FeedbackRoutesDeps,
} from './routes/feedback.ts';

import { createNoteRoutes, type NoteRoutesDeps } from './routes/notes.ts';
import { createQueryRoutes, type QueryRoutesDeps } from './routes/queries.ts';
import { createQueueBoard, type QueueBoardDeps } from './routes/queue-board.ts';
import { createUsageRoutes, type UsageRoutesDeps } from './routes/usage.ts';
import type { StreamTokens } from './stream-token.ts';

/** The body limit of a path: see {@link BODY_LIMITS}. */
function bodyLimitOf(path: string): number {
  if (path === '/v1/notes/batch') return BODY_LIMITS.noteBatch;
  if (path === '/v1/notes' || path.startsWith('/v1/notes/')) return BODY_LIMITS.note;
  return BODY_LIMITS.default;
}

/** Everything the API needs, built once in `main.ts` (or by a test). */
export type AppDeps = Omit<QueryRoutesDeps, 'options'> &
  AdminRoutesDeps &
  AdminFlagRoutesDeps &
  AdminExperimentRoutesDeps &
  FeedbackRoutesDeps &
  NoteRoutesDeps &
  QueueBoardDeps &
  UsageRoutesDeps & {
    newId: () => string;
    findKeyOwner: KeyLookup;
    keyRevocations: Pick<KeyRevocations, 'publish' | 'onRevoked' | 'isLive'>;
    checks: Record<string, ReadinessCheck>;
    metrics: Metrics;
    logger: Logger;
    /** Recent event-loop delay of this process (ms), for the overload guard. */
    eventLoopDelayMs: () => number;
    streamTokens: StreamTokens;
    options: QueryRoutesDeps['options'] & {
      adminToken: string;
      keyCacheTtlMs: number;
      overload: OverloadOptions;
    };
  };

/** Builds the HTTP app. No connection is opened here: every client comes in through `deps`. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.use(createRequestContext(deps));
  app.onError(createErrorHandler(deps.logger, (type) => deps.metrics.errors.inc({ type })));
  app.notFound((c) => {
    throw new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`, { status: 404 });
  });

  app.route('/', createHealthRoutes({ checks: deps.checks, registry: deps.metrics.registry }));
  const openApi = buildOpenApi();
  const docsPage = renderDocsPage(openApi);
  app.get('/openapi.json', (c) => c.json(openApi));
  app.get('/docs', (c) => c.html(docsPage));
  app.route('/app', createBrowserAppRoutes());
  app.route('/', createQueueBoard(deps));

  // First of all for the expensive writes: a saturated process refuses them at once, before any
  // lookup, so a spike gets fast 503s with Retry-After instead of queueing until sockets time out.
  // Polls, SSE and health stay open: they are cheap, and a client following an answer keeps it.
  const overload = createOverloadGuard(deps.options.overload, {
    eventLoopDelayMs: deps.eventLoopDelayMs,
    onRefusal: (reason) => deps.metrics.overloadRefusals.inc({ reason }),
  });
  app.post('/v1/queries', overload.middleware);
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], ['/v1/notes', '/v1/notes/*'], overload.middleware);

  // Before auth: an oversized declared body is refused without any lookup (and without reading it).
  app.use('/v1/*', limitBody(bodyLimitOf));
  const usage = createUsageRoutes(deps);
  app.use('/v1/admin/*', createAdminAuth(deps.options.adminToken));
  app.route('/v1/admin', createAdminRoutes(deps));
  app.route('/v1/admin/usage', usage.admin);
  app.route('/v1/admin/flags', createAdminFlagRoutes(deps));
  app.route('/v1/admin/experiments', createAdminExperimentRoutes(deps));
  app.route('/v1/admin/feedback', createAdminFeedbackRoutes(deps));

  const userAuth = createUserAuth(deps.findKeyOwner, {
    cacheTtlMs: deps.options.keyCacheTtlMs,
    cacheUsable: deps.keyRevocations.isLive,
  });
  deps.keyRevocations.onRevoked(userAuth);
  app.use('/v1/queries', userAuth);
  app.use('/v1/queries/*', createStreamTokenAuth(deps.streamTokens, userAuth));
  app.route('/v1/queries', createQueryRoutes(deps));
  app.route('/v1/queries', createFeedbackRoutes(deps));
  app.use('/v1/notes', userAuth);
  app.use('/v1/notes/*', userAuth);
  app.route('/v1/notes', createNoteRoutes(deps));
  app.use('/v1/me', userAuth);
  app.get('/v1/me', function whoAmI(c) {
    const user = c.get('user');
    return c.json({ user_id: user.userId, tier: user.tier, key_id: user.keyId } satisfies Me);
  });
  app.use('/v1/usage', userAuth);
  app.route('/v1/usage', usage.user);
  return app;
}
