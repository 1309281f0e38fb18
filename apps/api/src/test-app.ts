import { randomUUID } from 'node:crypto';
import { createDb, createNotesRepo, createQueriesRepo, createUsersRepo } from '@assistant/db';
import {
  createAnswerQueue,
  createEventStream,
  createIndexQueue,
  createKeys,
  createNotesGenerations,
  createRedis,
  waitForRedis,
} from '@assistant/queue';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { createTestDatabase, createTestRedis } from '@assistant/testing';
import { type AppDeps, createApp } from './app.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/**
 * The real API app over a test file's own Redis prefix and database, for `app.request(...)`
 * tests. `redisUrl` routes the app's command connection elsewhere (e.g. through a fault proxy).
 */
export async function createTestApp(label: string, options: { redisUrl?: string } = {}) {
  const testRedis = await createTestRedis(label);
  const database = await createTestDatabase(label);
  const db = createDb({ url: database.url, poolSize: 4 });
  const redis = createRedis(options.redisUrl ?? testRedis.url, 'command', 'api-test');
  redis.on('error', () => {});
  await waitForRedis(redis);
  const keys = createKeys(testRedis.prefix);
  const queue = createAnswerQueue(redis, keys, { attempts: 3, backoffMs: 100, retentionSeconds: 3600 });
  const events = createEventStream(redis, keys, { ttlSeconds: 3600 });
  const users = createUsersRepo(db.db);
  const notes = createNotesRepo(db.db);
  const indexQueue = createIndexQueue(redis, keys, { attempts: 3, backoffMs: 100, retentionSeconds: 3600 });
  const generations = createNotesGenerations(redis, keys, (userId) => notes.generation(userId));
  const blocking: ReturnType<typeof createRedis>[] = [];
  const deps: AppDeps = {
    queries: createQueriesRepo(db.db),
    users,
    findKeyOwner: (key) => users.findKeyOwner(key),
    queue,
    events,
    notes,
    indexQueue,
    generations,
    openBlocking: () => {
      const connection = createRedis(testRedis.url, 'blocking', 'api-test-tail');
      blocking.push(connection);
      return connection;
    },
    checks: { redis: () => redis.ping(), postgres: () => db.ping() },
    metrics: createMetrics('api'),
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    newId: randomUUID,
    now: Date.now,
    options: { maxWaitSeconds: 30, heartbeatMs: 200, adminToken: ADMIN_TOKEN, keyCacheTtlMs: 1000 },
  };
  const app = createApp(deps);

  async function createUser(tier: 'free' | 'premium' | 'internal' = 'free') {
    const res = await app.request('/v1/admin/users', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tier }),
    });
    if (res.status !== 201) throw new Error(`createUser: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; api_key: string; tier: string };
  }

  return {
    app,
    deps,
    queue,
    indexQueue,
    generations,
    events,
    keys,
    redis,
    testRedis,
    database,
    createUser,
    async close() {
      for (const connection of blocking) connection.disconnect();
      for (const q of [queue, indexQueue]) {
        await q.queue.obliterate({ force: true }).catch(() => {});
        await q.close();
      }
      redis.disconnect();
      await db.close();
      await testRedis.cleanup();
      await database.drop();
    },
  };
}
