import { type Keys, mgetBufferAnySlots, pipelineBatches, type RedisClient } from '@assistant/queue';
import type { CacheDeps } from './cache-events.ts';
import { ignoreCacheEvent } from './cache-events.ts';
import { sha256Hex } from './fingerprint.ts';
import { float32FromBytes, float32ToBytes } from './float32-bytes.ts';

/** Tunables of {@link createEmbeddingCache}. */
export type EmbeddingCacheOptions = {
  /** The model the vectors come from; part of every key, so a new model never reads old vectors. */
  modelId: string;
  /** Seconds a vector is kept. @defaultValue 604800 (7 days) */
  ttlSeconds?: number;
  /** Expected vector length; stored values of another length are misses. @defaultValue any */
  dimension?: number;
};

/** A text and its vector, for {@link EmbeddingCache.setMany}. */
export type EmbeddingEntry = { text: string; vector: Float32Array };

/**
 * Embeddings of query and chunk texts in Redis, keyed by model id and SHA-256 of the text and
 * stored as raw float32 little-endian bytes (1.5 KB for 384 dimensions, read back bit-exact).
 *
 * @example
 * const cache = createEmbeddingCache(redis, keys, { modelId: model.modelId, dimension: model.dimension });
 * const embedder = createCachedEmbedder(batchingEmbedder, cache);
 */
export function createEmbeddingCache(
  redis: RedisClient,
  keys: Keys,
  options: EmbeddingCacheOptions,
  deps: Omit<CacheDeps, 'now'> = {},
) {
  const ttlSeconds = options.ttlSeconds ?? 604_800;
  const onCacheEvent = deps.onCacheEvent ?? ignoreCacheEvent;
  const keyOf = (text: string) => keys.embeddingCache(options.modelId, sha256Hex(text));

  function decode(bytes: Buffer | null): Float32Array | undefined {
    if (bytes === null) return undefined;
    const vector = float32FromBytes(bytes);
    if (vector === undefined || vector.length === 0) return undefined;
    return options.dimension === undefined || vector.length === options.dimension ? vector : undefined;
  }

  return {
    /**
     * One MGET for all texts (on a cluster one per slot, pipelined per node): each vector, or
     * `undefined` where it is not cached.
     */
    async getMany(texts: readonly string[]): Promise<(Float32Array | undefined)[]> {
      if (texts.length === 0) return [];
      const values = await mgetBufferAnySlots(redis, texts.map(keyOf));
      return texts.map(function decodeOne(_text, i) {
        const vector = decode(values[i] ?? null);
        onCacheEvent('embedding', vector ? 'hit' : 'miss');
        return vector;
      });
    },

    /** Stores vectors with their TTL in one pipeline (on a cluster, one per node). */
    async setMany(entries: readonly EmbeddingEntry[]): Promise<void> {
      if (entries.length === 0) return;
      const keyed = entries.map((entry) => ({ key: keyOf(entry.text), vector: entry.vector }));
      const results = await Promise.all(
        pipelineBatches(redis, keyed, (entry) => entry.key).map(function storeBatch(batch) {
          const pipeline = redis.pipeline();
          for (const { key, vector } of batch) pipeline.set(key, float32ToBytes(vector), 'EX', ttlSeconds);
          return pipeline.exec();
        }),
      );
      const failure = results.flatMap((replies) => replies ?? []).find(([error]) => error !== null)?.[0];
      if (failure) throw failure;
      for (const _entry of entries) onCacheEvent('embedding', 'store');
    },
  };
}

/** The embedding cache's interface. */
export type EmbeddingCache = ReturnType<typeof createEmbeddingCache>;
