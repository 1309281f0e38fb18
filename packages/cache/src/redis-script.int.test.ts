import { randomUUID } from 'node:crypto';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisScript } from './redis-script.ts';

let t: TestRedis;

beforeAll(async () => {
  t = await createTestRedis('redis-script');
});
afterAll(async () => {
  await t?.cleanup();
});

describe('createRedisScript', () => {
  it('sends the source once when Redis does not know the script, then only its SHA', async () => {
    // A unique comment makes a script this Redis has never seen.
    const script = createRedisScript(`-- ${randomUUID()}\nreturn redis.call('SET', KEYS[1], ARGV[1])`);
    const evalCalls = vi.spyOn(t.redis, 'eval');
    await script.run(t.redis, [`${t.prefix}:k`], ['v1']);
    await script.run(t.redis, [`${t.prefix}:k`], ['v2']);
    expect(evalCalls).toHaveBeenCalledTimes(1);
    evalCalls.mockRestore();
    expect(await t.redis.get(`${t.prefix}:k`)).toBe('v2');
  });

  it('passes script errors through', async () => {
    const script = createRedisScript("return redis.error_reply('nope')");
    await expect(script.run(t.redis, [], [])).rejects.toThrow('nope');
  });
});
