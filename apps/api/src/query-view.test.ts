import type { AnswerQuality } from '@assistant/contracts';
import { QueryView } from '@assistant/contracts';
import type { QueryRow } from '@assistant/db';
import { describe, expect, it } from 'vitest';
import { toQueryView } from './query-view.ts';

const quality: AnswerQuality = {
  score: 0.91,
  groundedness: 1,
  support: 0.87,
  citation_coverage: 1,
  citation_validity: 1,
  sentences: 2,
  supported_sentences: 2,
  no_context: false,
  truncated: false,
  version: 1,
};

const row: QueryRow = {
  id: 'q_1',
  userId: 'u1',
  status: 'succeeded',
  query: 'How often do I feed the starter?',
  idempotencyKey: null,
  requestId: 'r1',
  answer: 'Every morning. [1]',
  outcome: 'answered',
  sources: [],
  model: 'big',
  provider: 'endpoint',
  promptTokens: 200,
  completionTokens: 20,
  costMicros: 260,
  cached: false,
  truncated: false,
  fallback: null,
  errorCode: null,
  errorMessage: null,
  attempts: 1,
  experimentId: null,
  experimentVariant: null,
  qualityScore: 0.91,
  quality,
  queryClass: null,
  escalation: {
    model: 'small',
    provider: 'endpoint',
    score: 0.12,
    usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 },
    cost_usd: 0.00002,
    escalated_to: 'big',
  },
  createdAt: new Date('2026-03-01T10:00:00Z'),
  startedAt: new Date('2026-03-01T10:00:01Z'),
  finishedAt: new Date('2026-03-01T10:00:02Z'),
};

describe('toQueryView', () => {
  it('returns the quality score with its parts and the escalated first attempt', () => {
    const view = toQueryView(row);
    expect(QueryView.parse(view)).toEqual(view);
    expect(view.quality).toEqual(quality);
    expect(view.escalation).toMatchObject({ model: 'small', score: 0.12, escalated_to: 'big' });
  });

  it('returns null quality and escalation for an unscored answer and an open query', () => {
    const unscored = toQueryView({ ...row, qualityScore: null, quality: null, escalation: null });
    expect(unscored).toMatchObject({ quality: null, escalation: null });
    expect(toQueryView({ ...row, status: 'running' })).toMatchObject({ quality: null, escalation: null });
  });

  it("returns a routed query's class and the model routing chose", () => {
    const routed = { ...row, queryClass: 'simple', model: 'small', escalation: null };
    expect(toQueryView(routed).route).toEqual({ class: 'simple', model: 'small' });
    // After a fallback, the routed model is the first one tried, not the one that answered.
    const fellBack = toQueryView({
      ...routed,
      model: 'big',
      fallback: {
        source: 'secondary',
        attempts: [{ provider: 'endpoint', model: 'small', outcome: 'failed', reason: 'timeout' }],
      },
    });
    expect(fellBack.route).toEqual({ class: 'simple', model: 'small' });
    expect(QueryView.parse(fellBack)).toEqual(fellBack);
  });

  it('returns no route for a query that was not routed or has not succeeded', () => {
    expect(toQueryView(row).route).toBeNull();
    expect(toQueryView({ ...row, queryClass: 'simple', status: 'running' }).route).toBeNull();
  });
});
