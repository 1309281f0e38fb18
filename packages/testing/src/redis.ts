import { Cluster, Redis } from 'ioredis';
import { testServers, uniqueName } from './env.ts';

/** A Redis connection and a key prefix of one test file's own. */
export type TestRedis = { redis: Redis; prefix: string; url: string; cleanup(): Promise<void> };

/** Opens a connection and picks a unique prefix; `cleanup()` deletes every key under it and closes. */
export async function createTestRedis(label: string): Promise<TestRedis> {
  const redis = new Redis(testServers.redisUrl, { maxRetriesPerRequest: 3 });
  const prefix = uniqueName(label);
  return {
    redis,
    prefix,
    url: testServers.redisUrl,
    async cleanup() {
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
    },
  };
}

/**
 * Deletes keys matching a pattern with SCAN (never KEYS). On a cluster every master is scanned
 * (each holds only its own slots' keys) and each key is deleted on its own (keys of several slots
 * cannot go in one command). For tests only.
 */
export async function deleteKeys(redis: Redis | Cluster, pattern: string): Promise<number> {
  if (redis instanceof Cluster) {
    const counts = await Promise.all(redis.nodes('master').map((node) => deleteOnNode(node, pattern, true)));
    return counts.reduce((sum, n) => sum + n, 0);
  }
  return deleteOnNode(redis, pattern, false);
}

async function deleteOnNode(redis: Redis, pattern: string, oneByOne: boolean): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length === 0) continue;
    if (!oneByOne) deleted += await redis.unlink(...keys);
    else for (const key of keys) deleted += await redis.unlink(key);
  } while (cursor !== '0');
  return deleted;
}
