// A type-only import: the embedder contract has one home, and the API never loads the model.
import type { Embedder } from '@assistant/embeddings';
import type { EmbeddingCache } from './embedding-cache.ts';

/** Collaborators of {@link createCachedEmbedder}. */
export type CachedEmbedderDeps = {
  /** A background cache write failed (the vectors were returned all the same). */
  onStoreError?: (error: unknown) => void;
};

/**
 * An embedder that answers from the embedding cache and sends only the misses (each distinct
 * text once) to the model, then caches what the model returned. The write is not waited for:
 * the caller has its vectors as soon as the model does (it is on the way to the first token),
 * and a write that fails only means the next ask embeds the text again.
 *
 * @example
 * const embedder = createCachedEmbedder(createBatchingEmbedder(model), embeddingCache, {
 *   onStoreError: (err) => logger.warn({ err }, 'embedding cache write failed'),
 * });
 */
export function createCachedEmbedder(
  embedder: Embedder,
  cache: Pick<EmbeddingCache, 'getMany' | 'setMany'>,
  deps: CachedEmbedderDeps = {},
): Embedder {
  const onStoreError = deps.onStoreError ?? (() => {});
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
        cache.setMany(entries).catch(onStoreError);
      }
      return texts.map((text, i) => cached[i] ?? fresh.get(text)!);
    },
  };
}
