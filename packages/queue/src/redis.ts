import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for:
 * - `command`: request paths (API). Fails fast when Redis is down (no offline queue), so a
 *   request gets a 503 instead of hanging. Not auto-pipelined: ioredis runs one auto-pipeline
 *   at a time per connection, so commands would queue behind one caught in a dropped connection
 *   instead of failing fast (the Redis-outage test saw /readyz wait out the outage).
 * - `submit`: the submit path's lookups and scripts in an API process (cache state, answer
 *   cache, single-flight marker, admission): as `command`, but auto-pipelined. Under load many
 *   submits reach the same step in one event-loop turn, and one socket write for all of them
 *   replaces one each (a write is a system call, about a quarter of an API process's CPU in a
 *   spike before this). The one-pipeline-at-a-time cost above is bounded here: every submit step
 *   has its own deadline (503 when it passes), and readiness and the rest stay on `command`.
 * - `worker`: BullMQ workers; BullMQ requires `maxRetriesPerRequest: null`. Not auto-pipelined:
 *   BullMQ duplicates it for blocking commands, which must not queue behind a pipeline.
 * - `events`: a worker's appends to event streams (see below).
 * - `subscriber`: a pub/sub connection (an API process's stream reader, its key revocations).
 *   Once subscribed it runs no other command; ioredis re-subscribes after a reconnect. No command
 *   timeout, and a (re)subscribe fails after one failed reconnect instead of waiting forever.
 */
export type RedisRole = 'command' | 'submit' | 'worker' | 'subscriber' | 'events';

const roleOptions: Record<RedisRole, RedisOptions> = {
  command: {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
  },
  submit: {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    enableAutoPipelining: true,
  },
  worker: { maxRetriesPerRequest: null, enableReadyCheck: true },
  subscriber: { enableOfflineQueue: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 },
  // A worker's event appends: wait out an outage; commands in flight when the connection
  // dropped are re-sent (ioredis would otherwise leave their promises pending forever), and the
  // append script drops a re-sent duplicate by its sequence number.
  // Auto-pipelined: the appends all running jobs issue in one event-loop turn leave in one socket
  // write (a write is a system call, which costs more than the append itself on a busy small host).
  events: { maxRetriesPerRequest: null, enableAutoPipelining: true },
};

/**
 * Opens a Redis connection for a role. The URL's database index (`redis://host:6379/3`) is
 * honoured by ioredis. Reconnects forever with a capped backoff.
 */
export function createRedis(url: string, role: RedisRole, name?: string): Redis {
  return new Redis(url, {
    ...roleOptions[role],
    connectionName: name,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * Opens a connection for a role, logs its connection errors (ioredis reconnects by itself), and
 * resolves once it is ready: what each app's composition root does for every connection it owns.
 */
export async function connectRedis(
  url: string,
  role: RedisRole,
  name: string,
  logger: { warn(fields: Record<string, unknown>, message: string): void },
): Promise<Redis> {
  const redis = createRedis(url, role, name);
  redis.on('error', (err: Error) =>
    logger.warn({ err: err.message, connection: name }, 'redis connection error'),
  );
  await waitForRedis(redis);
  return redis;
}
