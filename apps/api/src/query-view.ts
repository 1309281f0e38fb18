import type { QueryView, Source, Usage } from '@assistant/contracts';
import type { QueryRow } from '@assistant/db';

/** Links a client follows for a query. */
export function queryLinks(id: string) {
  return { self: `/v1/queries/${id}`, events: `/v1/queries/${id}/events` };
}

function usageOf(row: QueryRow): Usage | null {
  if (row.promptTokens === null || row.completionTokens === null) return null;
  return {
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    total_tokens: row.promptTokens + row.completionTokens,
  };
}

/** The public shape of a stored query. */
export function toQueryView(row: QueryRow): QueryView {
  return {
    id: row.id,
    status: row.status,
    query: row.query,
    answer: row.answer,
    sources: row.sources as Source[],
    model: row.model,
    usage: usageOf(row),
    cost_usd: row.costMicros === null ? null : row.costMicros / 1e6,
    cached: row.cached,
    fallback: (row.fallback as QueryView['fallback']) ?? null,
    error: row.errorCode ? { code: row.errorCode as never, message: row.errorMessage ?? '' } : null,
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
