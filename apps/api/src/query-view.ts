import type { QueryView } from '@assistant/contracts';
import { answerOf, type QueryRow } from '@assistant/db';

/**
 * Links a client follows for a query. With a stream token the `events` link carries it, so a
 * browser's `EventSource` (which cannot send `Authorization`) can follow it as is.
 */
export function queryLinks(id: string, streamToken?: string) {
  const events = `/v1/queries/${id}/events`;
  return { self: `/v1/queries/${id}`, events: streamToken ? `${events}?token=${streamToken}` : events };
}

/** The public shape of a stored query. */
export function toQueryView(row: QueryRow): QueryView {
  // The answer columns are read in one place (answerOf); an open or failed query has none.
  const answer = row.status === 'succeeded' ? answerOf(row) : undefined;
  return {
    id: row.id,
    status: row.status,
    query: row.query,
    answer: answer?.answer ?? null,
    outcome: answer?.outcome ?? null,
    sources: answer?.sources ?? [],
    model: answer?.model ?? null,
    usage: answer?.usage ?? null,
    cost_usd: answer?.cost_usd ?? null,
    truncated: answer?.truncated ?? null,
    cached: row.cached,
    fallback: answer?.fallback ?? null,
    quality: answer?.quality ?? null,
    escalation: answer?.escalation ?? null,
    route: answer?.route ?? null,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    finished_at: row.finishedAt?.toISOString() ?? null,
    links: queryLinks(row.id),
  };
}

/** Whether a query has reached `succeeded` or `failed`. */
export function isFinished(row: QueryRow): boolean {
  return row.status === 'succeeded' || row.status === 'failed';
}
