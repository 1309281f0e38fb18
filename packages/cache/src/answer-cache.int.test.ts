import type { Answer } from '@assistant/contracts';
import type { Keys } from '@assistant/queue';
import { createKeys, createNotesGenerations } from '@assistant/queue';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis, deleteKeys } from '@assistant/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnswerCache } from './answer-cache.ts';
import { createAnswerCache } from './answer-cache.ts';
import type { CacheEpochs } from './cache-epochs.ts';
import { createCacheEpochs } from './cache-epochs.ts';
import type { CacheOutcome, CacheTier } from './cache-events.ts';
import type { EvidenceRef, NoteVersions } from './evidence.ts';

const answer: Answer = {
  outcome: 'answered',
  answer: 'The wifi password is hunter2.',
  sources: [{ note_id: 'n1', title: 'Home', text: 'wifi: hunter2', score: 0.91 }],
  model: 'm-8b',
  provider: 'fake',
  usage: { prompt_tokens: 120, completion_tokens: 9, total_tokens: 129 },
  cost_usd: 0.0000294,
  truncated: false,
};
const evidence: EvidenceRef[] = [{ noteId: 'n1', chunkId: 'c1', version: 1 }];
const settings = { model: 'm-8b', promptVariant: 'v1' };
const query = 'What is my wifi password?';

let t: TestRedis;
let keys: Keys;
// A second connection with its own cache objects stands in for another API process.
let otherRedis: Redis;
let db: Map<string, number>;
let noteVersions: Map<string, number>;
let events: [CacheTier, CacheOutcome][];
let epochs: CacheEpochs;
let cache: AnswerCache;
let other: { epochs: CacheEpochs; cache: AnswerCache };

const currentVersions = async (ids: string[]): Promise<NoteVersions> =>
  new Map(ids.flatMap((id) => (noteVersions.has(id) ? [[id, noteVersions.get(id)!] as const] : [])));

function build(redis: Redis) {
  const generations = createNotesGenerations(redis, keys, async (userId) => db.get(userId) ?? 0);
  return {
    generations,
    epochs: createCacheEpochs(redis, keys, { loadGeneration: generations.current }),
    cache: createAnswerCache(
      redis,
      keys,
      {},
      { onCacheEvent: (tier, outcome) => events.push([tier, outcome]) },
    ),
  };
}

async function ask(c = cache, e = epochs, userId = 'u1', tier: 'free' | 'premium' = 'free', q = query) {
  const state = await e.readCacheState(userId, tier);
  return c.get({ state, query: q, settings, currentVersions });
}

async function store(
  userId = 'u1',
  tier: 'free' | 'premium' = 'free',
  write: Partial<Parameters<AnswerCache['set']>[0]> = {},
) {
  const state = await epochs.readCacheState(userId, tier);
  return cache.set({ state, query, settings, answer, evidence, fallback: false, ...write });
}

async function cacheKeys(): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await t.redis.scan(cursor, 'MATCH', `${t.prefix}:answer:*`, 'COUNT', 500);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.sort();
}

beforeAll(async () => {
  t = await createTestRedis('answer-cache');
  keys = createKeys(t.prefix);
  otherRedis = new Redis(t.url, { maxRetriesPerRequest: 3 });
});
afterEach(async () => {
  await deleteKeys(t.redis, `${t.prefix}:*`);
});
afterAll(async () => {
  otherRedis?.disconnect();
  await t?.cleanup();
});

beforeEach(function reset() {
  db = new Map([
    ['u1', 7],
    ['u2', 7],
  ]);
  noteVersions = new Map([['n1', 1]]);
  events = [];
  ({ epochs, cache } = build(t.redis));
  const o = build(otherRedis);
  other = { epochs: o.epochs, cache: o.cache };
});

describe('createAnswerCache', () => {
  it('misses first, then serves the same answer with its evidence, marked exact', async () => {
    expect(await ask()).toBeUndefined();
    expect(await store()).toEqual({ stored: true });
    const hit = await ask(cache, epochs, 'u1', 'free', '  what is my WIFI password ');
    expect(hit).toEqual({ ...answer, evidence, createdAt: expect.any(String), cache: 'exact' });
    expect(events).toEqual([
      ['exact', 'miss'],
      ['exact', 'store'],
      ['exact', 'hit'],
    ]);
  });

  it('serves an answer stored by one process to another at once', async () => {
    await store();
    expect(await ask(other.cache, other.epochs)).toMatchObject({ answer: answer.answer });
  });

  it('sets the TTL on every key it writes', async () => {
    await store();
    const written = await cacheKeys();
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(new RegExp(`^${t.prefix}:answer:\\{u1\\}:7:[0-9a-f]{64}$`));
    const ttl = await t.redis.ttl(written[0]!);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
  });

  it('makes every answer of a user unreachable when the notes generation is bumped', async () => {
    const generations = build(t.redis).generations;
    await store();
    await store('u1', 'free', { query: 'another question' });
    await generations.publish('u1', 8);
    expect(await ask()).toBeUndefined();
    expect(await ask(cache, epochs, 'u1', 'free', 'another question')).toBeUndefined();
  });

  it('reloads a missing generation instead of assuming 0', async () => {
    await store();
    // The Redis mirror expires; Postgres says the generation moved on meanwhile.
    await t.redis.del(keys.notesGeneration('u1'));
    db.set('u1', 9);
    expect((await epochs.readCacheState('u1', 'free')).generation).toBe(9);
    expect(await ask()).toBeUndefined();
  });

  it('misses when a cited note was edited or deleted, even under the same generation', async () => {
    await store();
    noteVersions.set('n1', 2);
    expect(await ask()).toBeUndefined();
    noteVersions.delete('n1');
    expect(await ask()).toBeUndefined();
    noteVersions.set('n1', 1);
    expect(await ask()).toBeDefined();
  });

  it('never serves one user the answer of another', async () => {
    await store('u1');
    expect(await ask(cache, epochs, 'u2')).toBeUndefined();
    expect(await ask(other.cache, other.epochs, 'u2')).toBeUndefined();
  });

  it('keeps tiers and settings apart', async () => {
    await store('u1', 'free');
    expect(await ask(cache, epochs, 'u1', 'premium')).toBeUndefined();
    const state = await epochs.readCacheState('u1', 'free');
    expect(
      await cache.get({ state, query, settings: { ...settings, promptVariant: 'v2' }, currentVersions }),
    ).toBeUndefined();
  });

  it('refuses truncated, fallback and malformed answers with a reason and writes nothing', async () => {
    expect(await store('u1', 'free', { answer: { ...answer, truncated: true } })).toEqual({
      stored: false,
      reason: 'truncated',
    });
    expect(await store('u1', 'free', { fallback: true })).toEqual({ stored: false, reason: 'fallback' });
    const error = { code: 'upstream_unavailable', message: 'LLM down' } as unknown as Answer;
    expect(await store('u1', 'free', { answer: error })).toEqual({ stored: false, reason: 'invalid_answer' });
    expect(await cacheKeys()).toEqual([]);
    expect(events.filter(([, outcome]) => outcome === 'store')).toEqual([]);
  });

  it('stores truncated and fallback answers only when configured to', async () => {
    const lenient = createAnswerCache(t.redis, keys, { storeTruncated: true, storeFallback: true });
    const state = await epochs.readCacheState('u1', 'free');
    const write = {
      state,
      query,
      settings,
      evidence,
      answer: { ...answer, truncated: true },
      fallback: true,
    };
    expect(await lenient.set(write)).toEqual({ stored: true });
    expect(await ask()).toMatchObject({ truncated: true });
  });

  it('refuses to store an answer whose cited note changed or went while it was answered, or cannot be checked', async () => {
    noteVersions.set('n1', 2);
    expect(await store('u1', 'free', { currentVersions })).toEqual({
      stored: false,
      reason: 'stale_evidence',
    });
    noteVersions.delete('n1');
    expect(await store('u1', 'free', { currentVersions })).toEqual({
      stored: false,
      reason: 'stale_evidence',
    });
    expect(await cacheKeys()).toEqual([]);
    const unreadable = async () => Promise.reject(new Error('Postgres down'));
    expect(await store('u1', 'free', { currentVersions: unreadable })).toEqual({
      stored: false,
      reason: 'stale_evidence',
    });
    noteVersions.set('n1', 1);
    expect(await store('u1', 'free', { currentVersions })).toEqual({ stored: true });
  });

  it('serves on the key alone when given no versions check (the caller vouches for the generation)', async () => {
    await store();
    const state = await epochs.readCacheState('u1', 'free');
    const asked: string[][] = [];
    const counting = async (ids: string[]) => {
      asked.push(ids);
      return currentVersions(ids);
    };
    expect(await cache.get({ state, query, settings, currentVersions: counting })).toBeDefined();
    expect(asked).toEqual([['n1']]);
    expect(await cache.get({ state, query, settings })).toMatchObject({
      answer: answer.answer,
      cache: 'exact',
    });
    expect(asked).toHaveLength(1);
  });

  it('uses a prefetched read only when the real state gives the same key', async () => {
    await store();
    const state = await epochs.readCacheState('u1', 'free');
    // Right guess: the answer comes from the read already sent, with no command of its own.
    const right = cache.prefetch({ state, query, settings });
    const sent = vi.spyOn(t.redis, 'sendCommand');
    expect(await cache.get({ state, query, settings, currentVersions }, right)).toMatchObject({
      answer: answer.answer,
    });
    expect(sent).not.toHaveBeenCalled();
    sent.mockRestore();
    // Wrong guess (the generation moved on since): read afresh under the real state.
    const stale = cache.prefetch({ state: { ...state, generation: state.generation - 1 }, query, settings });
    await build(t.redis).generations.publish('u1', 8);
    const moved = await epochs.readCacheState('u1', 'free');
    expect(await cache.get({ state: moved, query, settings, currentVersions }, stale)).toBeUndefined();
    expect(await cache.get({ state, query, settings, currentVersions }, stale)).toBeDefined();
  });

  it('treats an unreadable stored value as a miss', async () => {
    await store();
    const [key] = await cacheKeys();
    await t.redis.set(key!, '{"not":"an answer"}', 'EX', 60);
    expect(await ask()).toBeUndefined();
  });
});

describe('purge', () => {
  it('purges everything for every process at once', async () => {
    await store('u1', 'free');
    await store('u2', 'premium');
    expect(await other.epochs.purge({ scope: 'all' })).toEqual({ scope: 'all', epoch: 1 });
    expect(await ask(cache, epochs, 'u1', 'free')).toBeUndefined();
    expect(await ask(cache, epochs, 'u2', 'premium')).toBeUndefined();
    // New answers are cached again under the new epoch.
    await store('u1', 'free');
    expect(await ask(other.cache, other.epochs, 'u1', 'free')).toBeDefined();
  });

  it('purges one user and leaves the others', async () => {
    await store('u1');
    await store('u2');
    await epochs.purge({ scope: 'user', userId: 'u1' });
    expect(await ask(other.cache, other.epochs, 'u1')).toBeUndefined();
    expect(await ask(other.cache, other.epochs, 'u2')).toBeDefined();
  });

  it('purges one tier and leaves the others', async () => {
    await store('u1', 'free');
    await store('u2', 'premium');
    await epochs.purge({ scope: 'tier', tier: 'free' });
    expect(await ask(other.cache, other.epochs, 'u1', 'free')).toBeUndefined();
    expect(await ask(other.cache, other.epochs, 'u2', 'premium')).toBeDefined();
  });

  it('reads generation and epochs in one MGET', async () => {
    await epochs.purge({ scope: 'tier', tier: 'premium' });
    await epochs.purge({ scope: 'user', userId: 'u1' });
    await epochs.purge({ scope: 'user', userId: 'u1' });
    await build(t.redis).generations.publish('u1', 7);
    // Every command ioredis sends goes through sendCommand: count the round trips.
    const sent = vi.spyOn(t.redis, 'sendCommand');
    const state = await epochs.readCacheState('u1', 'premium');
    const commands = sent.mock.calls.map(([command]) => command.name);
    sent.mockRestore();
    expect(state).toEqual({
      userId: 'u1',
      tier: 'premium',
      generation: 7,
      epochs: { global: 0, tier: 1, user: 2 },
    });
    expect(commands).toEqual(['mget']);
  });
});
