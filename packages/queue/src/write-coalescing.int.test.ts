import type { Socket } from 'node:net';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis, startRedisCluster } from '@assistant/testing';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, waitForRedis } from './redis.ts';

let t: TestRedis;

beforeAll(async () => {
  t = await createTestRedis('write-coalescing');
});
afterAll(async () => {
  await t?.cleanup();
});

/** Counts the socket's flushes to the kernel (one `_write` or `_writev` each). */
function countFlushes(socket: Socket): () => number {
  let flushes = 0;
  const internal = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const method of ['_write', '_writev'] as const) {
    const original = internal[method].bind(socket);
    internal[method] = (...args: unknown[]) => {
      flushes++;
      return original(...args);
    };
  }
  return () => flushes;
}

async function ready(role: 'worker' | 'command'): Promise<Redis> {
  const redis = createRedis(t.url, role) as Redis;
  await waitForRedis(redis);
  return redis;
}

describe('coalesced writes on a worker or command connection (real Redis)', () => {
  it('sends the commands of one turn in one flush, each answered in order', async () => {
    const redis = await ready('worker');
    try {
      const key = `${t.prefix}:counter`;
      const flushes = countFlushes(redis.stream as Socket);
      const replies = await Promise.all(Array.from({ length: 20 }, () => redis.incr(key)));
      expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(flushes()).toBe(1);
      // Commands issued in later turns still go out at once, each turn on its own.
      expect(await redis.incr(key)).toBe(21);
      expect(await redis.get(key)).toBe('21');
      expect(flushes()).toBe(3);
    } finally {
      redis.disconnect();
    }
  });

  it('coalesces again on the socket of a reconnect (a command connection)', async () => {
    const redis = await ready('command');
    try {
      const first = redis.stream;
      redis.disconnect(true);
      await new Promise((resolve) => redis.once('ready', resolve));
      expect(redis.stream).not.toBe(first);
      const flushes = countFlushes(redis.stream as Socket);
      const key = `${t.prefix}:after-reconnect`;
      expect(await Promise.all([redis.set(key, 'a'), redis.append(key, 'b'), redis.get(key)])).toEqual([
        'OK',
        2,
        'ab',
      ]);
      expect(flushes()).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('leaves an auto-pipelined connection to ioredis, one write per pipeline', async () => {
    const redis = createRedis(t.url, 'submit') as Redis;
    try {
      await waitForRedis(redis);
      const flushes = countFlushes(redis.stream as Socket);
      await Promise.all(Array.from({ length: 5 }, (_, i) => redis.set(`${t.prefix}:plain:${i}`, 'x')));
      expect(flushes()).toBe(1);
      expect(await redis.get(`${t.prefix}:plain:4`)).toBe('x');
    } finally {
      redis.disconnect();
    }
  });
});

describe('coalesced writes on a worker connection to a Redis Cluster', () => {
  it('sends the commands of one turn in one flush per node, each answered', async () => {
    const cluster = await startRedisCluster(3);
    const redis = createRedis(cluster.url, 'worker') as Cluster;
    try {
      await waitForRedis(redis);
      const keys = Array.from({ length: 30 }, (_, i) => `coalesce:${i}`);
      // Every node connected (and coalesced) before counting.
      await Promise.all(keys.map((key) => redis.set(key, 'v')));
      const flushes = redis.nodes('master').map((node) => countFlushes(node.stream as Socket));
      const replies = await Promise.all(keys.map((key) => redis.append(key, 'w')));
      expect(replies).toEqual(keys.map(() => 2));
      expect(flushes.map((count) => count())).toEqual([1, 1, 1]);
      expect(await Promise.all(keys.map((key) => redis.get(key)))).toEqual(keys.map(() => 'vw'));
    } finally {
      redis.disconnect();
      await cluster.stop();
    }
  });
});
