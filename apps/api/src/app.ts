import { createHealthRoutes, type Logger, type Metrics, type ReadinessCheck } from '@assistant/telemetry';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from './app-env.ts';
import { AppError } from './app-error.ts';
import { createErrorHandler } from './error-handler.ts';
import { createAdminAuth, createUserAuth, type KeyLookup } from './middleware/auth.ts';
import { createRequestContext } from './middleware/request-context.ts';
import { type AdminRoutesDeps, createAdminRoutes } from './routes/admin.ts';

import { createQueryRoutes, type QueryRoutesDeps } from './routes/queries.ts';

/** Largest request body accepted anywhere. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Everything the API needs, built once in `main.ts` (or by a test). */
export type AppDeps = Omit<QueryRoutesDeps, 'options'> &
  AdminRoutesDeps & {
    findKeyOwner: KeyLookup;
    checks: Record<string, ReadinessCheck>;
    metrics: Metrics;
    logger: Logger;
    options: QueryRoutesDeps['options'] & { adminToken: string; keyCacheTtlMs: number };
  };

/** Builds the HTTP app. No connection is opened here: every client comes in through `deps`. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.use(createRequestContext(deps));
  app.onError(createErrorHandler(deps.logger));
  app.notFound((c) => {
    throw new AppError('not_found', `no route for ${c.req.method} ${c.req.path}`, { status: 404 });
  });

  app.route('/', createHealthRoutes({ checks: deps.checks, registry: deps.metrics.registry }));

  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new AppError('payload_too_large', `request body exceeds ${MAX_BODY_BYTES} bytes`, {
          status: 413,
        });
      },
    }),
  );
  app.use('/v1/admin/*', createAdminAuth(deps.options.adminToken));
  app.route('/v1/admin', createAdminRoutes(deps));

  const userAuth = createUserAuth(deps.findKeyOwner, { cacheTtlMs: deps.options.keyCacheTtlMs });
  app.use('/v1/queries', userAuth);
  app.use('/v1/queries/*', userAuth);
  app.route('/v1/queries', createQueryRoutes(deps));
  return app;
}
