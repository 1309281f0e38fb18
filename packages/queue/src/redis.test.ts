import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedis, isClusterUrl, type RedisClient } from './redis.ts';

// Options only: nothing listens on these ports, and each client is closed before it matters.
const opened: RedisClient[] = [];
function open(url: string, role: Parameters<typeof createRedis>[1]) {
  const redis = createRedis(url, role, `test-${role}`);
  redis.on('error', () => {});
  opened.push(redis);
  return redis;
}

afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
});

describe('createRedis', () => {
  it('opens a single connection for redis:// and rediss:// URLs, as before', () => {
    expect(isClusterUrl('redis://127.0.0.1:1/2')).toBe(false);
    const redis = open('redis://127.0.0.1:1/2', 'command');
    expect(redis).toBeInstanceOf(Redis);
    expect((redis as Redis).options).toMatchObject({
      db: 2,
      enableOfflineQueue: false,
      commandTimeout: 5_000,
    });
  });

  it('opens a cluster client seeded from a redis+cluster:// URL, the role split between cluster and nodes', () => {
    expect(isClusterUrl('rediss+cluster://127.0.0.1:1')).toBe(true);
    const submit = open('redis+cluster://user:p%40ss@127.0.0.1:1', 'submit') as Cluster;
    expect(submit).toBeInstanceOf(Cluster);
    expect(submit.options).toMatchObject({ enableOfflineQueue: false, enableAutoPipelining: true });
    expect(submit.options.redisOptions).toMatchObject({
      username: 'user',
      password: 'p@ss',
      connectTimeout: 2_000,
      commandTimeout: 5_000,
      maxRetriesPerRequest: 1,
      connectionName: 'test-submit',
    });
    expect(submit.options.redisOptions?.tls).toBeUndefined();

    // BullMQ reads maxRetriesPerRequest from the nodes' options of a cluster: it must be null.
    const worker = open('rediss+cluster://redis.example:6380', 'worker') as Cluster;
    expect(worker.options.redisOptions).toMatchObject({
      maxRetriesPerRequest: null,
      tls: { servername: 'redis.example' },
    });
  });
});
