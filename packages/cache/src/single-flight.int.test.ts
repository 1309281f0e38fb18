import type { Keys } from '@assistant/queue';
import { createKeys } from '@assistant/queue';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerCacheKeyParts } from './answer-key.ts';
import type { CacheState } from './cache-epochs.ts';
import type { SingleFlight } from './single-flight.ts';
import { createSingleFlight } from './single-flight.ts';

const state: CacheState = {
  userId: 'u1',
  tier: 'free',
  generation: 3,
  epochs: { global: 0, tier: 1, user: 2 },
};
const settings = { model: 'm-8b', promptVariant: 'v1' };

let t: TestRedis;
let keys: Keys;
let flights: SingleFlight;
let n = 0;
// Each test flies its own question.
const nextFlight = () => `f${++n}`;

beforeAll(async () => {
  t = await createTestRedis('single-flight');
  keys = createKeys(t.prefix);
  flights = createSingleFlight(t.redis, keys, { ttlSeconds: 120 });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('createSingleFlight', () => {
  it('derives the flight id from the answer-cache address: same question, same flight', () => {
    const id = flights.idOf(state, 'What is my wifi password?', settings);
    expect(id).toBe(answerCacheKeyParts({ state, query: 'What is my wifi password?', settings }).hash);
    expect(flights.idOf(state, '  what is my WIFI password? ', settings)).toBe(id);
    expect(flights.idOf({ ...state, generation: 4 }, 'What is my wifi password?', settings)).not.toBe(id);
    expect(flights.idOf(state, 'What is my wifi password?', { ...settings, model: 'other' })).not.toBe(id);
  });

  it('lets the first claim win; later claims fail and join the winner', async () => {
    const flight = nextFlight();
    expect(await flights.join('u1', flight)).toBeUndefined();
    expect(await flights.claim('u1', flight, 'q_a')).toBe(true);
    expect(await flights.claim('u1', flight, 'q_b')).toBe(false);
    // A claim sent again by the same query (ioredis re-sends after a reconnect) still holds it.
    expect(await flights.claim('u1', flight, 'q_a')).toBe(true);
    expect(await flights.join('u1', flight)).toBe('q_a');
    // Flights are per user: another user's identical flight id is a different marker.
    expect(await flights.join('u2', flight)).toBeUndefined();
  });

  it('sets the TTL on the marker it claims', async () => {
    const flight = nextFlight();
    await flights.claim('u1', flight, 'q_a');
    const ttl = await t.redis.ttl(keys.singleFlight('u1', flight));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('releases the marker only while it still names that query', async () => {
    const flight = nextFlight();
    await flights.claim('u1', flight, 'q_a');
    expect(await flights.release('u1', flight, 'q_other')).toBe(false);
    expect(await flights.join('u1', flight)).toBe('q_a');
    expect(await flights.release('u1', flight, 'q_a')).toBe(true);
    expect(await flights.join('u1', flight)).toBeUndefined();
    expect(await flights.release('u1', flight, 'q_a')).toBe(false);
    // Released, the flight is free to claim again.
    expect(await flights.claim('u1', flight, 'q_b')).toBe(true);
  });
});
