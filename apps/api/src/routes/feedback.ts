import { FeedbackBody, FeedbackRating, type FeedbackView } from '@assistant/contracts';
import type { FeedbackRepo, FeedbackRow, QueriesRepo } from '@assistant/db';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { AppError, notFound } from '../app-error.ts';
import { readJson } from '../json-body.ts';

/** Deps of the feedback routes. */
export type FeedbackRoutesDeps = {
  queries: Pick<QueriesRepo, 'findOwned'>;
  feedback: Pick<FeedbackRepo, 'upsert' | 'list'>;
  /** A rating was stored: `previous` is the one it replaced (metrics, canary counters). */
  onFeedback: (input: {
    userId: string;
    rating: FeedbackRating;
    previous: FeedbackRating | undefined;
  }) => void;
};

const QUERY_ID = /^q_[0-9a-f]{32}$/;

function viewOf(row: FeedbackRow): FeedbackView {
  return {
    query_id: row.queryId,
    user_id: row.userId,
    rating: row.rating,
    comment: row.comment,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/**
 * `POST /v1/queries/:id/feedback`: the owner's thumbs up or down on a finished query, one per
 * query (a second one replaces it). Another user's query is a 404, an unfinished one 409
 * `query_not_finished`.
 */
export function createFeedbackRoutes(deps: FeedbackRoutesDeps) {
  const app = new Hono<AppEnv>();
  app.post('/:id/feedback', async function giveFeedback(c) {
    const user = c.get('user');
    const id = c.req.param('id');
    if (!QUERY_ID.test(id)) throw notFound('query');
    const row = await deps.queries.findOwned(id, user.userId);
    if (!row) throw notFound('query');
    const body = await readJson(c, FeedbackBody);
    if (row.status !== 'succeeded' && row.status !== 'failed') {
      throw new AppError('query_not_finished', 'feedback is accepted once the query has finished', {
        status: 409,
      });
    }
    const { row: stored, previous } = await deps.feedback.upsert({
      queryId: row.id,
      userId: user.userId,
      rating: body.rating,
      comment: body.comment ?? null,
    });
    deps.onFeedback({ userId: user.userId, rating: body.rating, previous });
    return c.json(viewOf(stored), previous === undefined ? 201 : 200);
  });
  return app;
}

const ListParams = z.strictObject({
  rating: FeedbackRating.optional(),
  before: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `GET /v1/admin/feedback`: recent feedback, newest change first; `?before=` pages on. */
export function createAdminFeedbackRoutes(deps: Pick<FeedbackRoutesDeps, 'feedback'>) {
  const app = new Hono<AppEnv>();
  app.get('/', async function listFeedback(c) {
    const params = ListParams.parse(c.req.query());
    const rows = await deps.feedback.list({
      ...(params.rating ? { rating: params.rating } : {}),
      ...(params.before ? { before: new Date(params.before) } : {}),
      limit: params.limit,
    });
    const data = rows.map(viewOf);
    return c.json({
      data,
      next_before: rows.length === params.limit ? (data.at(-1)?.updated_at ?? null) : null,
    });
  });
  return app;
}
