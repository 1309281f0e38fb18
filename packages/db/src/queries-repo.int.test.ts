import { createTestDatabase, type TestDatabase } from '@assistant/testing';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from './client.ts';
import { createCostsRepo } from './costs-repo.ts';
import { ledgerEntryOf } from './ledger-entry.ts';
import { createQueriesRepo, type QuerySuccess } from './queries-repo.ts';
import { queries as queriesTable } from './schema.ts';
import { createUsersRepo } from './users-repo.ts';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase('queries-repo');
  db = createDb({ url: database.url, poolSize: 2 });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const PRICING = { inputNanosPerToken: 200, outputNanosPerToken: 600 };

const success = (changes: Partial<QuerySuccess> = {}): QuerySuccess => ({
  answer: 'The password is maple [1].',
  outcome: 'answered',
  sources: [{ note_id: 'n1', title: 'Wifi', text: 'maple', score: 0.9 }],
  model: 'm-8b',
  provider: 'fake',
  promptTokens: 100,
  completionTokens: 10,
  costMicros: 26,
  truncated: false,
  cached: false,
  fallback: null,
  qualityScore: null,
  quality: null,
  escalation: null,
  queryClass: 'simple',
  ...changes,
});

/** The row as drizzle's own query builder reads it. */
async function built(id: string) {
  return (await db.db.select().from(queriesTable).where(eq(queriesTable.id, id)))[0];
}

async function queued(id: string) {
  const users = createUsersRepo(db.db);
  const user = await users.createUserWithKey({ tier: 'free' });
  await createQueriesRepo(db.db).insertQueued({ id, userId: user.id, query: 'wifi?', requestId: `r-${id}` });
  return user.id;
}

describe('the worker path of the queries repository on real Postgres (prepared statements)', () => {
  it('claims an open query and stores its answer with the ledger entry; rows read as drizzle reads them', async () => {
    const queries = createQueriesRepo(db.db);
    const userId = await queued('q_prepared_1');

    const running = await queries.markRunning('q_prepared_1', userId, 1);
    expect(running).toEqual(await built('q_prepared_1'));
    expect(running).toMatchObject({ status: 'running', attempts: 1 });
    expect(running?.startedAt).toBeInstanceOf(Date);
    // Another user's claim and a claim of a finished query change nothing.
    expect(await queries.markRunning('q_prepared_1', 'someone-else', 2)).toBeUndefined();

    const stored = await queries.markSucceeded('q_prepared_1', success(), (row) =>
      ledgerEntryOf(row, PRICING, Date.now()),
    );
    expect(stored).toEqual(await built('q_prepared_1'));
    expect(await queries.find('q_prepared_1')).toEqual(stored);
    expect(await queries.findOwned('q_prepared_1', userId)).toEqual(stored);
    expect(await queries.findOwned('q_prepared_1', 'someone-else')).toBeUndefined();
    expect(stored).toMatchObject({ status: 'succeeded', attempts: 1, queryClass: 'simple', costMicros: 26 });
    expect(stored?.finishedAt).toBeInstanceOf(Date);
    // A null JSON column is SQL NULL, not the JSON value null.
    const [nulls] = await db.db.execute<{ fallback: null; quality: null }>(
      sql`select fallback is null as fallback, quality is null as quality from queries where id = 'q_prepared_1'`,
    );
    expect(nulls).toEqual({ fallback: true, quality: true });
    expect(await createCostsRepo(db.db).entryOf('q_prepared_1')).toMatchObject({
      userId,
      promptTokens: 100,
      completionTokens: 10,
      inputNanosPerToken: 200,
      costMicros: 26,
      cached: false,
    });

    // A replay stores nothing and claims nothing.
    expect(
      await queries.markSucceeded('q_prepared_1', success({ costMicros: 99 }), (row) =>
        ledgerEntryOf(row, PRICING, Date.now()),
      ),
    ).toBeUndefined();
    expect(await queries.markRunning('q_prepared_1', userId, 3)).toBeUndefined();
    expect((await queries.find('q_prepared_1'))?.costMicros).toBe(26);
  });

  it('stores JSON columns and a partial result as given', async () => {
    const queries = createQueriesRepo(db.db);
    const userId = await queued('q_prepared_2');
    await queries.markRunning('q_prepared_2', userId, 1);
    const fallback = {
      source: 'fallback' as const,
      attempts: [{ provider: 'fake', model: 'm-70b', outcome: 'failed' as const, reason: 'timeout' }],
    };
    const { cached: _, quality: __, ...partial } = success({ fallback });
    const stored = await queries.markSucceeded('q_prepared_2', partial, (row) =>
      ledgerEntryOf(row, PRICING, Date.now()),
    );
    expect(stored).toEqual(await built('q_prepared_2'));
    expect(stored).toMatchObject({ fallback, cached: false, quality: null });
  });

  it('inserts a queued query once per idempotency key, with its experiment', async () => {
    const queries = createQueriesRepo(db.db);
    const userId = (await createUsersRepo(db.db).createUserWithKey({ tier: 'free' })).id;
    const input = {
      userId,
      query: 'wifi?',
      requestId: 'r-idem',
      idempotencyKey: 'key-1',
      experiment: { id: 'e1', variant: 'b' },
    };
    const first = await queries.insertQueued({ id: 'q_idem_1', ...input });
    expect(first.created).toBe(true);
    expect(first.row).toEqual(await built('q_idem_1'));
    expect(first.row).toMatchObject({ status: 'queued', experimentId: 'e1', experimentVariant: 'b' });
    const again = await queries.insertQueued({ id: 'q_idem_2', ...input });
    expect(again).toEqual({ row: first.row, created: false });
    expect(await built('q_idem_2')).toBeUndefined();
    const plain = await queries.insertQueued({ id: 'q_idem_3', userId, query: 'q', requestId: 'r3' });
    expect(plain.row).toMatchObject({ idempotencyKey: null, experimentId: null, attempts: 0 });
  });

  it('stores neither row nor entry when the ledger entry fails (one transaction)', async () => {
    const queries = createQueriesRepo(db.db);
    const userId = await queued('q_prepared_3');
    await queries.markRunning('q_prepared_3', userId, 1);
    await expect(
      queries.markSucceeded('q_prepared_3', success(), (row) => ({
        ...ledgerEntryOf(row, PRICING, Date.now()),
        provider: null as unknown as string,
      })),
    ).rejects.toThrow();
    expect((await queries.find('q_prepared_3'))?.status).toBe('running');
    expect(await createCostsRepo(db.db).entryOf('q_prepared_3')).toBeUndefined();
  });
});
