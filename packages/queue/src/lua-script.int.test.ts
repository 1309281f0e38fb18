import type { TestRedis } from '@assistant/testing';
import { createTestRedis } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadLua } from './lua-script.ts';

let t: TestRedis;

beforeAll(async () => {
  t = await createTestRedis('lua-script');
});
afterAll(async () => {
  await t?.cleanup();
});

const fixture = (name: string) => new URL(`./lua-script.fixtures/${name}`, import.meta.url);

describe('loadLua', () => {
  it('inlines `-- @include` files from beside the script', async () => {
    const script = loadLua(fixture('set-doubled.lua'));
    expect(script.name).toBe('set-doubled.lua');
    expect(script.source).toContain('local function doubled');
    expect(script.source).not.toMatch(/^-- @include/m);
    await script.run(t.redis, [`${t.prefix}:k`], ['ab']);
    expect(await t.redis.get(`${t.prefix}:k`)).toBe('abab');
  });

  it('sends the source once when Redis does not know the script, then only its SHA', async () => {
    const script = loadLua(fixture('set-doubled.lua'));
    // Redis forgets every script, as after a restart.
    await t.redis.script('FLUSH');
    const evalCalls = vi.spyOn(t.redis, 'eval');
    await script.run(t.redis, [`${t.prefix}:k`], ['v1']);
    await script.run(t.redis, [`${t.prefix}:k`], ['v2']);
    expect(evalCalls).toHaveBeenCalledTimes(1);
    evalCalls.mockRestore();
    expect(await t.redis.get(`${t.prefix}:k`)).toBe('v2v2');
  });

  it('passes script errors through', async () => {
    const script = loadLua(fixture('fails.lua'));
    await expect(script.run(t.redis, [], [])).rejects.toThrow('nope');
  });
});
