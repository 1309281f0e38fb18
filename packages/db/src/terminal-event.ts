import type { QueryEvent } from '@assistant/contracts';
import { answerOf } from './answer-of.ts';
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
        code: row.errorCode ?? 'internal_error',
        message: row.errorMessage ?? 'query failed',
      },
    };
  }
  if (row.status !== 'succeeded') return undefined;
  return { type: 'done', result: answerOf(row) };
}
