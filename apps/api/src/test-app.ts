import { loadConfig } from '@assistant/config';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { createTestDatabase, createTestRedis } from '@assistant/testing';
import { buildApi } from './compose.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/**
 * The real API, composed exactly as `main.ts` does, over a test file's own Redis prefix and
 * database, for `app.request(...)` tests. `redisUrl` routes the app's Redis connection elsewhere
 * (e.g. through a fault proxy), `databasePort` the Postgres one (to a proxy on 127.0.0.1); `env`
 * adds settings.
 */
export async function createTestApp(
  label: string,
  options: { redisUrl?: string; databasePort?: number; env?: Record<string, string> } = {},
) {
  const testRedis = await createTestRedis(label);
  const database = await createTestDatabase(label);
  const databaseUrl = new URL(database.url);
  if (options.databasePort !== undefined) {
    databaseUrl.hostname = '127.0.0.1';
    databaseUrl.port = String(options.databasePort);
  }
  const config = loadConfig({
    REDIS_URL: options.redisUrl ?? testRedis.url,
    REDIS_PREFIX: testRedis.prefix,
    DATABASE_URL: databaseUrl.toString(),
    DATABASE_POOL_SIZE: '4',
    ADMIN_TOKEN,
    API_KEY_CACHE_TTL_MS: '1000',
    SSE_HEARTBEAT_MS: '200',
    JOB_BACKOFF_MS: '100',
    ...options.env,
  });
  const api = await buildApi(config, {
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    metrics: createMetrics('api'),
  });
  const { app } = api;

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
    config,
    ...api.parts,
    testRedis,
    database,
    createUser,
    /** Ends open SSE streams and long-polls, as a shutting-down process does. */
    beginShutdown: () => api.beginShutdown(),
    async close() {
      for (const producer of [api.parts.queue, api.parts.indexQueue]) {
        await producer.queue.obliterate({ force: true }).catch(() => {});
      }
      await api.close();
      await testRedis.cleanup();
      await database.drop();
    },
  };
}
