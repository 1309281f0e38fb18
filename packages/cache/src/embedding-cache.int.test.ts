import { createHash } from 'node:crypto';
import type { Embedder } from '@assistant/embeddings';
import type { Keys } from '@assistant/queue';
import { createKeys } from '@assistant/queue';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis, deleteKeys } from '@assistant/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CacheOutcome, CacheTier } from './cache-events.ts';
import { createCachedEmbedder } from './cached-embedder.ts';
import { createEmbeddingCache } from './embedding-cache.ts';

let t: TestRedis;
let keys: Keys;

beforeAll(async () => {
  t = await createTestRedis('embedding-cache');
  keys = createKeys(t.prefix);
});
afterEach(async () => {
  await deleteKeys(t.redis, `${t.prefix}:*`);
});
afterAll(async () => {
  await t?.cleanup();
});

function randomVector(dimension: number): Float32Array {
  const vector = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++)
    vector[i] = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 20 - 10);
  return vector;
}

function countingEmbedder(): Embedder & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async embed(texts) {
      calls.push([...texts]);
      return texts.map(() => randomVector(384));
    },
  };
}

describe('createEmbeddingCache', () => {
  it('round-trips vectors bit for bit, in one MGET, and misses unknown texts', async () => {
    const cache = createEmbeddingCache(t.redis, keys, { modelId: 'test/minilm', dimension: 384 });
    const a = randomVector(384);
    const b = randomVector(384);
    b[0] = -0;
    b[1] = 1e-45;
    await cache.setMany([
      { text: 'alpha', vector: a },
      { text: 'béta ✓', vector: b },
    ]);
    const mget = vi.spyOn(t.redis, 'mgetBuffer');
    const [gotA, missing, gotB] = await cache.getMany(['alpha', 'gamma', 'béta ✓']);
    expect(mget).toHaveBeenCalledTimes(1);
    mget.mockRestore();
    expect(missing).toBeUndefined();
    expect(Buffer.from(gotA!.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(gotB!.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Object.is(gotB![0], -0)).toBe(true);
  });

  it('stores raw float32 little-endian bytes under model id and text hash, with a 7-day TTL', async () => {
    const cache = createEmbeddingCache(t.redis, keys, { modelId: 'test/minilm' });
    await cache.setMany([{ text: 'alpha', vector: new Float32Array([1.5, -2]) }]);
    const textHash = createHash('sha256').update('alpha').digest('hex');
    const key = `${t.prefix}:embedding:test/minilm:${textHash}`;
    expect(keys.embeddingCache('test/minilm', textHash)).toBe(key);
    expect(await t.redis.getBuffer(key)).toEqual(Buffer.from([0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]));
    const ttl = await t.redis.ttl(key);
    expect(ttl).toBeGreaterThan(604_000);
    expect(ttl).toBeLessThanOrEqual(604_800);
  });

  it('keeps models apart and treats vectors of another dimension as misses', async () => {
    const small = createEmbeddingCache(t.redis, keys, { modelId: 'model-a', dimension: 2 });
    await small.setMany([{ text: 'x', vector: new Float32Array([1, 2]) }]);
    expect(await createEmbeddingCache(t.redis, keys, { modelId: 'model-b' }).getMany(['x'])).toEqual([
      undefined,
    ]);
    expect(
      await createEmbeddingCache(t.redis, keys, { modelId: 'model-a', dimension: 3 }).getMany(['x']),
    ).toEqual([undefined]);
  });

  it('reports one event per text', async () => {
    const events: [CacheTier, CacheOutcome][] = [];
    const cache = createEmbeddingCache(
      t.redis,
      keys,
      { modelId: 'm' },
      { onCacheEvent: (tier, outcome) => events.push([tier, outcome]) },
    );
    await cache.setMany([{ text: 'a', vector: new Float32Array([1]) }]);
    await cache.getMany(['a', 'b', 'c']);
    expect(events).toEqual([
      ['embedding', 'store'],
      ['embedding', 'hit'],
      ['embedding', 'miss'],
      ['embedding', 'miss'],
    ]);
  });
});

describe('createCachedEmbedder over Redis', () => {
  it('calls the model only for texts no process has embedded yet', async () => {
    const model = countingEmbedder();
    const first = createCachedEmbedder(model, createEmbeddingCache(t.redis, keys, { modelId: 'm' }));
    const [q1, q2] = await first.embed(['how do refunds work?', 'shipping times']);
    expect(model.calls).toEqual([['how do refunds work?', 'shipping times']]);

    // Another process with its own cache object shares the vectors through Redis.
    const second = createCachedEmbedder(model, createEmbeddingCache(t.redis, keys, { modelId: 'm' }));
    const vectors = await second.embed(['shipping times', 'new text', 'how do refunds work?']);
    expect(model.calls).toEqual([['how do refunds work?', 'shipping times'], ['new text']]);
    expect(vectors[0]).toEqual(q2);
    expect(vectors[2]).toEqual(q1);

    await second.embed(['new text']);
    expect(model.calls).toHaveLength(2);
  });
});
