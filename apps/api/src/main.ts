import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig } from '@assistant/config';
import { createDb, createNotesRepo, createQueriesRepo, createUsersRepo, runMigrations } from '@assistant/db';
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
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';

/** Composition root of the API: every client is built here once and passed in. */
async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger({ service: 'api', level: config.log.level });
  const metrics = createMetrics('api');
  const keys = createKeys(config.redis.prefix);

  if (config.db.migrateOnStart) await runMigrations(config.db.url);
  const db = createDb({ url: config.db.url, poolSize: config.db.poolSize });
  const redis = createRedis(config.redis.url, 'command', 'api');
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  await waitForRedis(redis);

  const queue = createAnswerQueue(redis, keys, config.jobs);
  const events = createEventStream(redis, keys, config.events);
  const users = createUsersRepo(db.db);
  const notes = createNotesRepo(db.db);
  const indexQueue = createIndexQueue(redis, keys, config.jobs);

  const app = createApp({
    queries: createQueriesRepo(db.db),
    users,
    findKeyOwner: (key) => users.findKeyOwner(key),
    queue,
    events,
    notes,
    indexQueue,
    generations: createNotesGenerations(redis, keys, (userId) => notes.generation(userId)),
    openBlocking: () => createRedis(config.redis.url, 'blocking', 'api-tail'),
    checks: { redis: () => redis.ping(), postgres: () => db.ping() },
    metrics,
    logger,
    newId: randomUUID,
    now: Date.now,
    options: {
      maxWaitSeconds: config.api.maxWaitSeconds,
      heartbeatMs: config.events.heartbeatMs,
      adminToken: config.auth.adminToken,
      keyCacheTtlMs: config.auth.keyCacheTtlMs,
    },
  });

  const server = serve({ fetch: app.fetch, port: config.api.port, hostname: config.api.host }, (info) => {
    logger.info({ port: info.port, host: config.api.host }, 'api listening');
  });

  let closing = false;
  async function shutdown(signal: string) {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'api shutting down');
    const force = setTimeout(() => process.exit(1), config.shutdown.graceMs).unref();
    server.close();
    if ('closeAllConnections' in server) (server as { closeAllConnections(): void }).closeAllConnections();
    await Promise.allSettled([queue.close(), indexQueue.close()]);
    redis.disconnect();
    await db.close().catch(() => {});
    clearTimeout(force);
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('api failed to start:', error);
  process.exit(1);
});
