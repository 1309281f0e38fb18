import { createKeys, type Keys } from '@assistant/queue';
import { createTestRedis, type TestRedis } from '@assistant/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keyTtls, openConnections, testClock } from './int-test-helpers.ts';
import { createRunSlots } from './run-slots.ts';

let t: TestRedis;
let workers: Redis[];
let prefix: string;
let keys: Keys;
let testNumber = 0;

beforeAll(async () => {
  t = await createTestRedis('limits-run-slots');
  workers = openConnections(t.url, 4);
});
beforeEach(() => {
  prefix = `${t.prefix}:${++testNumber}`;
  keys = createKeys(prefix);
});
afterEach(async () => {
  for (const [key, ttl] of await keyTtls(t.redis, prefix)) expect(ttl, key).toBeGreaterThan(0);
});
afterAll(async () => {
  for (const worker of workers ?? []) worker.disconnect();
  await t?.cleanup();
});

describe('run slots', () => {
  it('refuses a third job when the cap is 2, and keeps users apart', async () => {
    const slots = createRunSlots(t.redis, keys, { leaseMs: 30_000 });
    expect(await slots.acquire('u1', 'j1', 2)).toBe(true);
    expect(await slots.acquire('u1', 'j2', 2)).toBe(true);
    expect(await slots.acquire('u1', 'j3', 2)).toBe(false);
    expect(await slots.acquire('u2', 'j4', 2)).toBe(true);
  });

  it('gives exactly `max` of 30 concurrent acquires from several workers', async () => {
    const all = workers.map((worker) => createRunSlots(worker, keys, { leaseMs: 30_000 }));
    const held = await Promise.all(
      Array.from({ length: 30 }, (_, i) => all[i % all.length]!.acquire('u1', `j${i}`, 2)),
    );
    expect(held.filter(Boolean)).toHaveLength(2);
  });

  it('is idempotent for the same job id', async () => {
    const slots = createRunSlots(t.redis, keys, { leaseMs: 30_000 });
    expect(await slots.acquire('u1', 'j1', 2)).toBe(true);
    expect(await slots.acquire('u1', 'j1', 2)).toBe(true);
    expect(await slots.acquire('u1', 'j2', 2)).toBe(true);
    expect(await t.redis.zcard(keys.limitsRunSlots('u1'))).toBe(2);
  });

  it('frees a slot on release', async () => {
    const slots = createRunSlots(t.redis, keys, { leaseMs: 30_000 });
    await slots.acquire('u1', 'j1', 1);
    expect(await slots.acquire('u1', 'j2', 1)).toBe(false);
    await slots.release('u1', 'j1');
    expect(await slots.acquire('u1', 'j2', 1)).toBe(true);
  });

  it("frees a dead worker's slot when its lease expires, and renew keeps a live one", async () => {
    const clock = testClock(Date.UTC(2030, 0, 1));
    const slots = createRunSlots(t.redis, keys, { leaseMs: 1_000, now: clock.now });
    await slots.acquire('u1', 'live', 2);
    await slots.acquire('u1', 'dead', 2);
    clock.advance(800);
    expect(await slots.renew('u1', 'live')).toBe(true);
    clock.advance(201); // "dead" expired at 1000; "live" now runs to 1800
    expect(await slots.acquire('u1', 'next', 2)).toBe(true);
    expect(await slots.acquire('u1', 'another', 2)).toBe(false);
    expect(await t.redis.zrange(keys.limitsRunSlots('u1'), 0, -1)).toEqual(['live', 'next']);
    clock.advance(2_000);
    expect(await slots.renew('u1', 'live')).toBe(false); // lost: not revived
    expect(await slots.acquire('u1', 'another', 2)).toBe(true);
  });
});
