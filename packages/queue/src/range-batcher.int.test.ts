import type { TestRedis } from '@assistant/testing';
import { createTestRedis } from '@assistant/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRangeBatcher } from './range-batcher.ts';

let t: TestRedis;

beforeAll(async () => {
  t = await createTestRedis('range-batcher');
});
afterAll(async () => {
  await t?.cleanup();
});

describe('createRangeBatcher on real Redis', () => {
  it('sends the reads of one event-loop turn as one pipeline, each with its own result', async () => {
    const keys = ['a', 'b', 'c'].map((name) => `${t.prefix}:stream:${name}`);
    const ids: string[][] = [];
    for (const [i, key] of keys.entries()) {
      ids.push([]);
      for (let n = 0; n <= i; n++) ids[i]!.push((await t.redis.xadd(key, '*', 'data', `${i}-${n}`))!);
    }
    let pipelines = 0;
    const xrange = createRangeBatcher({
      pipeline: () => {
        pipelines += 1;
        return t.redis.pipeline();
      },
    });
    const [all, afterFirst, capped] = await Promise.all([
      xrange(keys[0]!, '-', 100),
      xrange(keys[1]!, `(${ids[1]![0]}`, 100),
      xrange(keys[2]!, '-', 2),
    ]);
    expect(pipelines).toBe(1);
    expect(all).toEqual([[ids[0]![0], ['data', '0-0']]]);
    expect(afterFirst).toEqual([[ids[1]![1], ['data', '1-1']]]);
    expect(capped.map(([id]) => id)).toEqual(ids[2]!.slice(0, 2));
    expect(await xrange(`${t.prefix}:stream:none`, '-', 10)).toEqual([]);
    expect(pipelines).toBe(2);
  });

  it('fails each read at once when the connection is down', async () => {
    // Nothing listens on port 1: the connection never becomes ready.
    const redis = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, retryStrategy: () => null });
    redis.on('error', () => {});
    const xrange = createRangeBatcher(redis);
    const started = performance.now();
    const reads = [xrange('k1', '-', 1), xrange('k2', '-', 1)];
    for (const read of reads) await expect(read).rejects.toThrow(/enableOfflineQueue/);
    expect(performance.now() - started).toBeLessThan(500);
    redis.disconnect();
  });
});
