import type { Answer, QueryEvent, Source } from '@assistant/contracts';
import type { QueryRow } from './schema.ts';

/**
 * The terminal event (`done` or `error`) a finished row stands for, or `undefined` while the
 * query is still open. One definition for every place that re-announces a stored ending: a
 * replayed job, and an SSE client whose stream has expired.
 */
export function terminalEventOf(row: QueryRow): QueryEvent | undefined {
  if (row.status === 'failed') {
    return {
      type: 'error',
      error: {
        code: (row.errorCode ?? 'internal_error') as never,
        message: row.errorMessage ?? 'query failed',
      },
    };
  }
  if (row.status !== 'succeeded') return undefined;
  const prompt = row.promptTokens ?? 0;
  const completion = row.completionTokens ?? 0;
  const result: Answer = {
    answer: row.answer ?? '',
    sources: row.sources as Source[],
    model: row.model ?? 'unknown',
    provider: row.provider ?? 'unknown',
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    cost_usd: (row.costMicros ?? 0) / 1e6,
    truncated: row.truncated,
    ...(row.fallback ? { fallback: row.fallback as Answer['fallback'] } : {}),
  };
  return { type: 'done', result };
}
