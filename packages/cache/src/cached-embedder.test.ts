import type { Embedder } from '@assistant/embeddings';
import { describe, expect, it } from 'vitest';
import { createCachedEmbedder } from './cached-embedder.ts';
import type { EmbeddingEntry } from './embedding-cache.ts';

function countingEmbedder(): Embedder & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async embed(texts) {
      calls.push([...texts]);
      return texts.map((text) => new Float32Array([text.length, 1]));
    },
  };
}

function memoryCache() {
  const stored = new Map<string, Float32Array>();
  return {
    stored,
    async getMany(texts: readonly string[]) {
      return texts.map((text) => stored.get(text));
    },
    async setMany(entries: readonly EmbeddingEntry[]) {
      for (const { text, vector } of entries) stored.set(text, vector);
    },
  };
}

describe('createCachedEmbedder', () => {
  it('sends only misses to the model, each distinct text once, and caches them', async () => {
    const model = countingEmbedder();
    const cache = memoryCache();
    cache.stored.set('cached', new Float32Array([9, 9]));
    const embedder = createCachedEmbedder(model, cache);

    const vectors = await embedder.embed(['cached', 'new', 'other', 'new']);
    expect(model.calls).toEqual([['new', 'other']]);
    expect(vectors.map((v) => [...v])).toEqual([
      [9, 9],
      [3, 1],
      [5, 1],
      [3, 1],
    ]);
    expect([...cache.stored.keys()].sort()).toEqual(['cached', 'new', 'other']);

    await embedder.embed(['other', 'cached']);
    expect(model.calls).toHaveLength(1);
  });

  it('returns the vectors without waiting for the cache write, and reports a failed write', async () => {
    const model = countingEmbedder();
    let finishWrite: (error?: Error) => void = () => {};
    const cache = {
      getMany: async (texts: readonly string[]) => texts.map(() => undefined),
      setMany: () =>
        new Promise<void>((resolve, reject) => {
          finishWrite = (error) => (error ? reject(error) : resolve());
        }),
    };
    const errors: unknown[] = [];
    const embedder = createCachedEmbedder(model, cache, { onStoreError: (error) => errors.push(error) });
    const vectors = await embedder.embed(['slow write']);
    expect(vectors.map((v) => [...v])).toEqual([[10, 1]]);
    finishWrite(new Error('redis down'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([new Error('redis down')]);
  });

  it('fails when the model returns the wrong number of vectors', async () => {
    const broken: Embedder = { embed: async () => [] };
    await expect(createCachedEmbedder(broken, memoryCache()).embed(['a'])).rejects.toThrow(/0 vectors for 1/);
  });
});
