import { createTestDatabase, type TestDatabase } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from './client.ts';
import { type CostEntry, createCostsRepo } from './costs-repo.ts';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase('costs-repo');
  db = createDb({ url: database.url, poolSize: 2 });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const entry = (queryId: string, changes: Partial<CostEntry> = {}): CostEntry => ({
  queryId,
  userId: 'u1',
  day: '2026-03-01',
  provider: 'fake',
  model: 'm-8b',
  promptTokens: 100,
  completionTokens: 10,
  inputNanosPerToken: 200,
  outputNanosPerToken: 600,
  costMicros: 26,
  cached: false,
  ...changes,
});

/** A day of totals: queries, cache hits, prompt and completion tokens, micro-dollars. */
const usage = (day: string, [queries, cacheHits, promptTokens, completionTokens, costMicros]: number[]) => ({
  day,
  queries,
  cacheHits,
  promptTokens,
  completionTokens,
  costMicros,
});

describe('the cost ledger on real Postgres', () => {
  it('records each query once, and the daily aggregates move only with a new ledger row', async () => {
    const costs = createCostsRepo(db.db);
    expect(await costs.record(entry('q1'))).toBe(true);
    expect(await costs.record(entry('q1', { costMicros: 999 }))).toBe(false);
    expect(
      await costs.record(entry('q2', { cached: true, promptTokens: 0, completionTokens: 0, costMicros: 0 })),
    ).toBe(true);
    expect(await costs.record(entry('q3', { userId: 'u2', day: '2026-03-02' }))).toBe(true);

    expect(await costs.userUsage('u1', '2026-03-01', '2026-03-31')).toEqual([
      {
        day: '2026-03-01',
        queries: 2,
        cacheHits: 1,
        promptTokens: 100,
        completionTokens: 10,
        costMicros: 26,
      },
    ]);
    expect(await costs.globalUsage('2026-03-01', '2026-03-31')).toEqual([
      {
        day: '2026-03-01',
        queries: 2,
        cacheHits: 1,
        promptTokens: 100,
        completionTokens: 10,
        costMicros: 26,
      },
      {
        day: '2026-03-02',
        queries: 1,
        cacheHits: 0,
        promptTokens: 100,
        completionTokens: 10,
        costMicros: 26,
      },
    ]);
    expect(await costs.ledgerTotal('u1', '2026-03-01')).toEqual({ rows: 2, costMicros: 26 });
  });

  it('forgets an entry with its share of the aggregates, once', async () => {
    const costs = createCostsRepo(db.db);
    await costs.record(entry('q4', { userId: 'u3' }));
    await costs.forget('q4');
    await costs.forget('q4');
    expect(await costs.entryOf('q4')).toBeUndefined();
    expect(await costs.userUsage('u3', '2026-03-01', '2026-03-01')).toEqual([
      usage('2026-03-01', [0, 0, 0, 0, 0]),
    ]);
    expect((await costs.globalUsage('2026-03-01', '2026-03-01'))[0]).toMatchObject({
      queries: 2,
      costMicros: 26,
    });
  });

  it('records and forgets concurrently without a deadlock, each entry counted once', async () => {
    const costs = createCostsRepo(db.db);
    const day = '2026-04-01';
    const ids = Array.from({ length: 40 }, (_, i) => `qc${i}`);
    // Replays (the same id twice at once) and withdrawals racing new entries, on two users.
    await Promise.all([
      ...ids.map((id, i) => costs.record(entry(id, { day, userId: `uc${i % 2}` }))),
      ...ids.slice(0, 10).map((id, i) => costs.record(entry(id, { day, userId: `uc${i % 2}` }))),
    ]);
    await Promise.all([
      ...ids.slice(0, 20).map((id) => costs.forget(id)),
      ...ids.map((id, i) => costs.record(entry(`${id}b`, { day, userId: `uc${i % 2}` }))),
    ]);
    const [global] = await costs.globalUsage(day, day);
    expect(global).toEqual(usage(day, [60, 0, 6000, 600, 1560]));
    const perUser = await Promise.all(['uc0', 'uc1'].map((u) => costs.userUsage(u, day, day)));
    expect(perUser.map((rows) => rows[0]?.queries)).toEqual([30, 30]);
  });
});
