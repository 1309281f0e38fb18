import { type QueryRow, rowOfAnswer, usageOf } from '@assistant/db';
import { describe, expect, it } from 'vitest';
import { toQueryView } from './query-view.ts';

// A row as the worker stores a routed answer: the answer columns written by rowOfAnswer.
const row: QueryRow = {
  ...rowOfAnswer(
    {
      outcome: 'answered',
      answer: 'Twice a week [1].',
      sources: [],
      model: 'small',
      provider: 'endpoint',
      usage: usageOf(65, 10),
      cost_usd: 0.000002,
      truncated: false,
      route: { class: 'simple', model: 'small' },
    },
    { costMicros: 2, cached: false },
  ),
  id: 'q_1',
  userId: 'u1',
  status: 'succeeded',
  query: 'How often do I water the tomatoes?',
  requestId: 'r1',
  attempts: 1,
  cached: false,
  fallback: null,
  queryClass: 'simple',
  ...Object.fromEntries(
    (
      [
        'idempotencyKey',
        'errorCode',
        'errorMessage',
        'experimentId',
        'experimentVariant',
        'qualityScore',
        'quality',
        'escalation',
      ] as const
    ).map((column) => [column, null]),
  ),
  createdAt: new Date('2026-03-01T10:00:00Z'),
  startedAt: new Date('2026-03-01T10:00:01Z'),
  finishedAt: new Date('2026-03-01T10:00:02Z'),
} as QueryRow;

describe('toQueryView', () => {
  it("shows a routed query's class and the model routing chose", () => {
    expect(toQueryView(row).route).toEqual({ class: 'simple', model: 'small' });
    // After a fallback, the routed model is the first one tried, not the one that answered.
    const fellBack = toQueryView({
      ...row,
      model: 'big',
      fallback: {
        source: 'secondary',
        attempts: [{ provider: 'endpoint', model: 'small', outcome: 'failed', reason: 'timeout' }],
      },
    });
    expect(fellBack.route).toEqual({ class: 'simple', model: 'small' });
  });

  it('shows no route for a query that was not routed or has not succeeded', () => {
    expect(toQueryView({ ...row, queryClass: null }).route).toBeNull();
    expect(toQueryView({ ...row, status: 'running' }).route).toBeNull();
  });
});
