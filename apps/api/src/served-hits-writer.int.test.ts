import {
  createCostsRepo,
  createDb,
  createQueriesRepo,
  createUsersRepo,
  type Db,
  ledgerEntryOf,
  type QueryRow,
  servedRowCodec,
  servedRowOf,
  utcDay,
} from '@assistant/db';
import { createAdmission } from '@assistant/limits';
import {
  createKeys,
  createRedis,
  createServedHits,
  createServedHitsReader,
  type Keys,
  type RedisClient,
} from '@assistant/queue';
import { createLogger } from '@assistant/telemetry';
import {
  createTestDatabase,
  createTestRedis,
  type TestDatabase,
  type TestRedis,
  waitUntil,
} from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServedHitsWriter, type ServedHitsWriter } from './served-hits-writer.ts';

// The write-behind of cache hits on real Redis and Postgres: what the submit path logs, a writer
// stores (row and ledger entry, once); a writer that died leaves its entries to another; a
// withdrawn hit and a deleted user's hits are not stored and block nothing.
const FREE = { inputNanosPerToken: 0, outputNanosPerToken: 0 };

let redis: TestRedis;
let database: TestDatabase;
let db: Db;
let sql: postgres.Sql;
let keys: Keys;
const connections: RedisClient[] = [];
const writers: ServedHitsWriter[] = [];
let hitNo = 0;

beforeAll(async () => {
  redis = await createTestRedis('served_hits');
  database = await createTestDatabase('served_hits');
  db = createDb({ url: database.url, poolSize: 4 });
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
  keys = createKeys(redis.prefix);
});
afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.stop()));
});
afterAll(async () => {
  for (const c of connections) c.disconnect();
  await sql?.end();
  await db?.close();
  await redis?.cleanup();
  await database?.drop();
});

const served = () => createServedHits(redis.redis, keys, { rowTtlMs: 60_000 });
const queries = () => createQueriesRepo(db.db);

function readerNamed(name: string, log: 'current' | 'legacy' = 'current') {
  const connection = createRedis(redis.url, 'worker', `test-${name}`);
  connections.push(connection);
  return createServedHitsReader(connection, keys, name, log);
}

function startWriter(name: string, claimIdleMs = 30_000) {
  const writer = createServedHitsWriter(
    {
      reader: readerNamed(name),
      legacy: readerNamed(name, 'legacy'),
      queries: queries(),
      ledgerOf: (row) => ledgerEntryOf(row, FREE, Date.now()),
      logger: createLogger({ service: 'test', level: 'silent' }),
      now: Date.now,
    },
    { batchSize: 64, blockMs: 200, claimIdleMs, retryMs: 100 },
  );
  writer.start();
  writers.push(writer);
  return writer;
}

async function newUser(): Promise<string> {
  return (await createUsersRepo(db.db).createUserWithKey({ tier: 'free' })).id;
}

function hitRow(userId: string): QueryRow {
  hitNo++;
  const id = `q_${hitNo.toString(16).padStart(32, '0')}`;
  return servedRowOf(
    {
      id,
      userId,
      query: `cached question ${hitNo}`,
      requestId: `r${hitNo}`,
      result: {
        answer: 'From the cache.',
        outcome: 'answered',
        sources: [],
        model: 'fake-model',
        provider: 'endpoint',
        promptTokens: 0,
        completionTokens: 0,
        costMicros: 0,
        truncated: false,
        cached: true,
      },
    },
    new Date(),
  );
}

// Room enough that admission never refuses: the hits are logged the way the submit path logs
// them, by the admission script that counts them.
const ROOMY = {
  perMinute: 1_000_000,
  perHour: 1_000_000,
  perDay: 1_000_000,
  dailyBudgetMicros: 1_000_000_000,
  maxInFlight: 1_000,
  maxRunning: 10,
};

async function log(rows: QueryRow[]): Promise<void> {
  const admission = createAdmission(redis.redis, keys);
  for (const row of rows) {
    const admitted = await admission.admit({
      userId: row.userId,
      queryId: row.id,
      limits: ROOMY,
      global: { perHour: 1_000_000_000, dailyBudgetMicros: 1_000_000_000_000 },
      inFlight: false,
      budget: false,
      record: served().recordOf(row.id, servedRowCodec.encode(row)),
    });
    expect(admitted.allowed).toBe(true);
  }
}

const storedIds = async (userId: string) =>
  (await sql<{ id: string }[]>`select id from queries where user_id = ${userId} order by id`).map(
    (r) => r.id,
  );
const logLength = () => redis.redis.xlen(keys.servedHits());

describe('the served-hits writer', () => {
  it('stores logged hits with their ledger entries, once, and empties the log', async () => {
    const userId = await newUser();
    const rows = Array.from({ length: 150 }, () => hitRow(userId));
    // Readable from Redis before any writer runs.
    await log(rows);
    expect(servedRowCodec.decode((await served().findRow(rows[0]!.id))!)).toEqual(rows[0]);

    startWriter('w1');
    await waitUntil(async () => (await storedIds(userId)).length === rows.length, {
      what: 'all hits stored',
    });
    await waitUntil(async () => (await logLength()) === 0, { what: 'the log emptied' });
    const [stored] = await sql`select * from queries where id = ${rows[0]!.id}`;
    expect(stored).toMatchObject({
      status: 'succeeded',
      cached: true,
      answer: 'From the cache.',
      user_id: userId,
    });
    const usage = await createCostsRepo(db.db).userUsage(userId, utcDay(Date.now()), utcDay(Date.now()));
    expect(usage).toEqual([expect.objectContaining({ queries: 150, cacheHits: 150, costMicros: 0 })]);

    // A log entry stored again (read twice) changes nothing.
    expect(await queries().insertServed([rows[0]!], (row) => ledgerEntryOf(row, FREE, Date.now()))).toBe(0);
    const again = await createCostsRepo(db.db).userUsage(userId, utcDay(Date.now()), utcDay(Date.now()));
    expect(again).toEqual(usage);
  });

  it('stores what an older release logged in the legacy log, its dead writers’ pending entries too', async () => {
    const userId = await newUser();
    const rows = [hitRow(userId), hitRow(userId), hitRow(userId)];
    // As the older release did: its group, and each hit's row copy and entry in its own slot.
    const old = readerNamed('old-release', 'legacy');
    await redis.redis.xgroup('CREATE', keys.legacyServedHits(), 'writers', '0', 'MKSTREAM');
    for (const row of rows) {
      const json = servedRowCodec.encode(row);
      await redis.redis.set(keys.legacyServedRow(row.id), json, 'PX', 60_000);
      await redis.redis.xadd(keys.legacyServedHits(), '*', 'id', row.id, 'row', json);
    }
    // Readable meanwhile, as the older release served them.
    expect(servedRowCodec.decode((await served().findRow(rows[2]!.id))!)).toEqual(rows[2]);
    // One was read by an old writer that stopped before storing it.
    expect((await old.read(1)).map((e) => e.queryId)).toEqual([rows[0]!.id]);

    startWriter('upgraded', 300);
    await waitUntil(async () => (await storedIds(userId)).length === 3, {
      what: 'the legacy hits stored',
    });
    await waitUntil(async () => (await redis.redis.xlen(keys.legacyServedHits())) === 0, {
      what: 'the legacy log emptied',
    });
    await redis.redis.del(keys.legacyServedHits());
  });

  it('takes over the entries of a writer that died before storing them', async () => {
    const userId = await newUser();
    const rows = [hitRow(userId), hitRow(userId), hitRow(userId)];
    await log(rows);
    // A writer reads them, then dies without storing or acknowledging.
    const dead = readerNamed('dead');
    await dead.ensureGroup();
    expect((await dead.read(10, 100)).map((e) => e.queryId)).toEqual(rows.map((r) => r.id));

    startWriter('heir', 300);
    await waitUntil(async () => (await storedIds(userId)).length === 3, {
      what: 'the dead writer’s hits stored',
    });
    await waitUntil(async () => (await logLength()) === 0, { what: 'the log emptied' });
  });

  it('skips a withdrawn hit and a deleted user’s hits without holding back the others', async () => {
    const kept = await newUser();
    const gone = await newUser();
    const withdrawn = hitRow(kept);
    const orphan = hitRow(gone);
    const fine = [hitRow(kept), hitRow(kept)];
    await log([withdrawn, orphan, ...fine]);
    await served().withdraw(withdrawn.id);
    expect(await served().findRow(withdrawn.id)).toBeUndefined();
    await sql`delete from users where id = ${gone}`;

    startWriter('w2');
    await waitUntil(async () => (await logLength()) === 0, { what: 'the log emptied' });
    expect(await storedIds(kept)).toEqual(fine.map((r) => r.id).sort());
    expect(await storedIds(gone)).toEqual([]);
  });
});
