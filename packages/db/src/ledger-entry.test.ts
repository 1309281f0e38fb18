import { describe, expect, it } from 'vitest';
import { ledgerEntryOf } from './ledger-entry.ts';
import type { QueryRow } from './schema.ts';

const row: QueryRow = {
  id: 'q_1',
  userId: 'u1',
  status: 'succeeded',
  query: 'What is my wifi password?',
  idempotencyKey: null,
  requestId: 'r1',
  answer: 'hunter2',
  outcome: 'answered',
  sources: [],
  model: 'm-8b',
  provider: 'fake',
  promptTokens: 120,
  completionTokens: 9,
  costMicros: 294,
  cached: false,
  truncated: false,
  fallback: null,
  errorCode: null,
  errorMessage: null,
  attempts: 1,
  experimentId: null,
  experimentVariant: null,
  qualityScore: null,
  quality: null,
  queryClass: null,
  escalation: null,
  createdAt: new Date('2026-03-01T23:59:58Z'),
  startedAt: new Date('2026-03-01T23:59:59Z'),
  finishedAt: new Date('2026-03-01T23:59:59.500Z'),
};
const pricing = { inputNanosPerToken: 2_000, outputNanosPerToken: 6_000 };
const nextDay = Date.parse('2026-03-02T00:00:01Z');

describe('ledgerEntryOf', () => {
  it('records a generated answer with its tokens, prices and cost on the day it finished', () => {
    const entry = ledgerEntryOf(row, pricing, nextDay);
    expect(entry).toEqual({
      queryId: 'q_1',
      userId: 'u1',
      day: '2026-03-01',
      provider: 'fake',
      model: 'm-8b',
      promptTokens: 120,
      completionTokens: 9,
      inputNanosPerToken: 2_000,
      outputNanosPerToken: 6_000,
      costMicros: 294,
      cached: false,
    });
  });

  it('prices a cached answer at nothing, whatever pricing is passed', () => {
    const entry = ledgerEntryOf(
      { ...row, cached: true, promptTokens: 0, completionTokens: 0, costMicros: 0 },
      pricing,
      nextDay,
    );
    expect(entry).toMatchObject({
      inputNanosPerToken: 0,
      outputNanosPerToken: 0,
      costMicros: 0,
      promptTokens: 0,
      cached: true,
    });
  });

  it('counts a row without a finish time on the day of `now`', () => {
    expect(ledgerEntryOf({ ...row, finishedAt: null }, pricing, nextDay).day).toBe('2026-03-02');
  });
});
