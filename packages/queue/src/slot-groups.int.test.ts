import {
  createTestRedis,
  startRedisCluster,
  type TestRedis,
  type TestRedisCluster,
} from '@assistant/testing';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStream } from './event-stream.ts';
import { createKeys } from './keys.ts';
import { createRedis, type RedisClient, waitForRedis } from './redis.ts';
import { mgetAnySlots, mgetBufferAnySlots, pipelineBatches } from './slot-groups.ts';

// Reads across slots, against a real 3-master cluster (started here) and the single test Redis:
// the same answers from both, and on the cluster no command that spans slots.
let cluster: TestRedisCluster;
let single: TestRedis;
let clustered: RedisClient;
let autoPipelined: RedisClient; // the submit role's cluster connection
let prefix: string;

beforeAll(async () => {
  [cluster, single] = await Promise.all([startRedisCluster(3), createTestRedis('slot-groups')]);
  prefix = single.prefix;
  clustered = createRedis(cluster.url, 'command', 'slot-groups-test');
  autoPipelined = createRedis(cluster.url, 'submit', 'slot-groups-test-submit');
  await Promise.all([waitForRedis(clustered), waitForRedis(autoPipelined)]);
}, 60_000);

afterAll(async () => {
  clustered?.disconnect();
  autoPipelined?.disconnect();
  await Promise.allSettled([cluster?.stop(), single?.cleanup()]);
});

const names = Array.from({ length: 40 }, (_, i) => `k${i}`);

describe('mgetAnySlots', () => {
  it('reads keys of many slots in the order asked, missing ones as null: on a cluster (pipelined or auto-pipelined) and on one Redis', async () => {
    const keyList = names.map((name) => `${prefix}:${name}`);
    expect(new Set(keyList.map((k) => calculateSlot(k))).size).toBeGreaterThan(30);
    for (const redis of [clustered, autoPipelined, single.redis]) {
      for (const [i, key] of keyList.entries()) if (i % 3 !== 0) await redis.set(key, `v${i}`);
      const asked = [...keyList, `${prefix}:none`, keyList[1]!];
      const expected = asked.map((key) => {
        const i = keyList.indexOf(key);
        return i === -1 || i % 3 === 0 ? null : `v${i}`;
      });
      expect(await mgetAnySlots(redis, asked)).toEqual(expected);
      const buffers = await mgetBufferAnySlots(redis, asked);
      expect(buffers.map((b) => b?.toString() ?? null)).toEqual(expected);
      expect(await mgetAnySlots(redis, [])).toEqual([]);
    }
  });
});

describe('pipelineBatches', () => {
  it('is one batch on one Redis and one per master on a 3-master cluster', () => {
    const items = names.map((name) => ({ key: `${prefix}:${name}` }));
    expect(pipelineBatches(single.redis, items, (i) => i.key)).toEqual([items]);
    const batches = pipelineBatches(clustered, items, (i) => i.key);
    expect(batches.length).toBe(3);
    expect(batches.flat().length).toBe(items.length);
  });

  it('lets the stream reader read many queries’ streams in one turn on a cluster', async () => {
    const keys = createKeys(`${prefix}-streams`);
    const events = createEventStream(clustered, keys, { maxLength: 100, ttlSeconds: 60 });
    const queries = Array.from({ length: 12 }, (_, i) => `q-${i}`);
    for (const [i, queryId] of queries.entries())
      await events.append(queryId, { type: 'token', text: `t${i}` });
    // One event-loop turn: the range batcher sends these together, one pipeline per node.
    const read = await Promise.all(queries.map((queryId) => events.readAfter(queryId, '0')));
    expect(read.map((list) => list.length)).toEqual(queries.map(() => 1));
  });
});
