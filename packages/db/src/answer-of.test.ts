import type { Answer } from '@assistant/contracts';
import { describe, expect, it } from 'vitest';
import { answerOf, microsToUsd, rowOfAnswer, usageOf } from './answer-of.ts';
import type { QueryRow } from './schema.ts';
import { terminalEventOf } from './terminal-event.ts';

const answer: Answer = {
  outcome: 'answered',
  answer: 'The wifi password is hunter2.',
  sources: [{ note_id: 'n1', title: 'Home', text: 'wifi: hunter2', score: 0.91 }],
  model: 'm-8b',
  provider: 'fake',
  usage: { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129 },
  cost_usd: 0.000294,
  truncated: false,
  fallback: {
    source: 'secondary',
    attempts: [{ provider: 'hf', model: 'big', outcome: 'failed', reason: 'timeout' }],
  },
};

/** A row as Postgres returns it after `markSucceeded(id, rowOfAnswer(...))`. */
function storedRow(stored: ReturnType<typeof rowOfAnswer>, overrides: Partial<QueryRow> = {}): QueryRow {
  return {
    id: 'q_1',
    userId: 'u1',
    status: 'succeeded',
    query: 'What is my wifi password?',
    idempotencyKey: null,
    requestId: 'r1',
    errorCode: null,
    errorMessage: null,
    attempts: 1,
    experimentId: null,
    experimentVariant: null,
    createdAt: new Date('2026-03-01T10:00:00Z'),
    startedAt: new Date('2026-03-01T10:00:01Z'),
    finishedAt: new Date('2026-03-01T10:00:02Z'),
    ...stored,
    cached: stored.cached ?? false,
    fallback: stored.fallback ?? null,
    qualityScore: stored.qualityScore ?? null,
    quality: stored.quality ?? null,
    escalation: stored.escalation ?? null,
    queryClass: stored.queryClass ?? null,
    ...overrides,
  };
}

describe('microsToUsd', () => {
  it('turns integer micro-dollars into dollars', () => {
    expect(microsToUsd(294)).toBe(0.000294);
    expect(microsToUsd(2_500_000)).toBe(2.5);
    expect(microsToUsd(0)).toBe(0);
  });
});

describe('usageOf', () => {
  it('adds the total', () => {
    expect(usageOf(120, 9)).toEqual({ prompt_tokens: 120, completion_tokens: 9, total_tokens: 129 });
  });
});

describe('rowOfAnswer and answerOf', () => {
  it('store an answer and read the same answer back', () => {
    const stored = rowOfAnswer(answer, { costMicros: 294, cached: false });
    expect(stored).toMatchObject({ promptTokens: 120, completionTokens: 9, costMicros: 294, cached: false });
    expect(answerOf(storedRow(stored))).toEqual(answer);
  });

  it('store no fallback as null and read none back', () => {
    const { fallback: _omitted, ...plain } = answer;
    const stored = rowOfAnswer(plain, { costMicros: 294, cached: true });
    expect(stored.fallback).toBeNull();
    expect(stored.cached).toBe(true);
    expect(answerOf(storedRow(stored))).toEqual(plain);
    expect('fallback' in answerOf(storedRow(stored))).toBe(false);
  });

  it('store a route as its class and read back the class with the model routing chose', () => {
    const { fallback: _omitted, ...plain } = answer;
    const routed: Answer = { ...plain, route: { class: 'simple', model: 'm-8b' } };
    const stored = rowOfAnswer(routed, { costMicros: 294, cached: false });
    expect(stored.queryClass).toBe('simple');
    expect(answerOf(storedRow(stored))).toEqual(routed);
    // After a fallback the routed model is the first one tried, not the one that answered.
    const fellBack = rowOfAnswer(
      { ...answer, route: { class: 'complex', model: 'big' } },
      { costMicros: 1, cached: false },
    );
    expect(answerOf(storedRow(fellBack)).route).toEqual({ class: 'complex', model: 'big' });
    // Escalated: the routed model wrote the first attempt, the stronger one the answer.
    const escalated = rowOfAnswer(
      {
        ...plain,
        model: 'big',
        route: { class: 'simple', model: 'small' },
        escalation: {
          model: 'small',
          provider: 'fake',
          score: 0.1,
          usage: usageOf(10, 2),
          cost_usd: 0,
          escalated_to: 'big',
        },
      },
      { costMicros: 1, cached: false },
    );
    expect(answerOf(storedRow(escalated)).route).toEqual({ class: 'simple', model: 'small' });
    // Not routed: no class stored, no route read.
    expect(rowOfAnswer(plain, { costMicros: 0, cached: false }).queryClass).toBeNull();
    expect('route' in answerOf(storedRow(rowOfAnswer(plain, { costMicros: 0, cached: false })))).toBe(false);
  });

  it('store the quality score in its column and its parts as jsonb, with an escalation, and read them back', () => {
    const scored: Answer = {
      ...answer,
      quality: {
        score: 0.82,
        groundedness: 1,
        support: 0.8,
        citation_coverage: 1,
        citation_validity: 1,
        sentences: 2,
        supported_sentences: 2,
        no_context: false,
        truncated: false,
        version: 1,
      },
      escalation: {
        model: 'm-1b',
        provider: 'fake',
        score: 0.1,
        usage: { prompt_tokens: 100, completion_tokens: 8, total_tokens: 108 },
        cost_usd: 0.00002,
        escalated_to: 'm-8b',
      },
    };
    const stored = rowOfAnswer(scored, { costMicros: 294, cached: false });
    expect(stored).toMatchObject({
      qualityScore: 0.82,
      quality: scored.quality,
      escalation: scored.escalation,
    });
    expect(answerOf(storedRow(stored))).toEqual(scored);
    const unscored = rowOfAnswer(answer, { costMicros: 294, cached: false });
    expect(unscored).toMatchObject({ qualityScore: null, quality: null, escalation: null });
    expect('quality' in answerOf(storedRow(unscored))).toBe(false);
  });

  it('take the cost from the stored micro-dollars, not the float', () => {
    const stored = rowOfAnswer({ ...answer, cost_usd: 123 }, { costMicros: 294, cached: false });
    expect(stored.costMicros).toBe(294);
    expect(answerOf(storedRow(stored)).cost_usd).toBe(0.000294);
  });
});

describe('terminalEventOf', () => {
  it('announces a succeeded row with the answer it stores', () => {
    const row = storedRow(rowOfAnswer(answer, { costMicros: 294, cached: false }));
    expect(terminalEventOf(row)).toEqual({ type: 'done', result: answer });
  });

  it('announces a failed row with its error, and an open row with nothing', () => {
    const row = storedRow(rowOfAnswer(answer, { costMicros: 0, cached: false }));
    expect(
      terminalEventOf({ ...row, status: 'failed', errorCode: 'upstream_unavailable', errorMessage: 'down' }),
    ).toEqual({ type: 'error', error: { code: 'upstream_unavailable', message: 'down' } });
    expect(terminalEventOf({ ...row, status: 'running' })).toBeUndefined();
  });
});
