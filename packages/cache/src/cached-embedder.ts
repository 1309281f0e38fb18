// A type-only import: the embedder contract has one home, and the API never loads the model.
import type { Embedder } from '@assistant/embeddings';
import type { EmbeddingCache } from './embedding-cache.ts';

/**
 * An embedder that answers from the embedding cache and sends only the misses (each distinct
 * text once) to the model, then caches what the model returned.
 *
 * @example
 * const embedder = createCachedEmbedder(createBatchingEmbedder(model), embeddingCache);
 */
export function createCachedEmbedder(
  embedder: Embedder,
  cache: Pick<EmbeddingCache, 'getMany' | 'setMany'>,
): Embedder {
  return {
    async embed(texts: string[]): Promise<Float32Array[]> {
      const cached = await cache.getMany(texts);
      const missing = [...new Set(texts.filter((_text, i) => cached[i] === undefined))];
      const fresh = new Map<string, Float32Array>();
      if (missing.length > 0) {
        const vectors = await embedder.embed(missing);
        if (vectors.length !== missing.length) {
          throw new Error(`embedder returned ${vectors.length} vectors for ${missing.length} texts`);
        }
        const entries = missing.map((text, i) => ({ text, vector: vectors[i]! }));
        for (const { text, vector } of entries) fresh.set(text, vector);
        await cache.setMany(entries);
      }
      return texts.map((text, i) => cached[i] ?? fresh.get(text)!);
    },
  };
}
