import type { LexicalHit } from '@assistant/db';
import type { Retriever } from '../pipeline/retrieve.ts';
import { type ChunkRef, toRetrieved, type UserVectorIndex } from './user-vector-index.ts';

/** How candidates are ranked. */
export type Ranking = 'dense' | 'lexical' | 'hybrid';

/** Options of {@link createHybridRetriever}. */
export type HybridRetrieverOptions = {
  /** @defaultValue 'hybrid' */
  ranking: Ranking;
  /**
   * Least cosine similarity for a chunk to count as relevant. A lexical match counts with a lower
   * floor ({@link HybridRetrieverOptions.lexicalMinScore}): an exact rare word is evidence too.
   * @defaultValue 0.3
   */
  minScore: number;
  /** @defaultValue 0.15 */
  lexicalMinScore: number;
  /** Candidates taken from each ranking before fusion. @defaultValue 30 */
  candidates: number;
  /** Reciprocal-rank-fusion constant; higher flattens the rank curve. @defaultValue 60 */
  rrfK: number;
  /** Weight of the lexical ranking against the dense one (1) in the fusion. @defaultValue 0.5 */
  lexicalWeight: number;
};

/** Deps of {@link createHybridRetriever}. */
export type HybridRetrieverDeps = {
  index: UserVectorIndex;
  lexicalSearch: (userId: string, words: string[], limit: number) => Promise<LexicalHit[]>;
};

/** Words of a question worth a full-text lookup (Postgres drops English stop words itself). */
export function queryWords(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'_-]*/gu) ?? [];
  return [...new Set(words.map((w) => w.replace(/'s$/, '')).filter((w) => w.length > 1))].slice(0, 32);
}

/**
 * Retrieval over the asking user's chunks only: dense cosine from the in-memory matrix, lexical
 * rank from Postgres full-text search, fused by reciprocal rank (robust to the two scores' very
 * different scales). Chunks below the relevance floor are dropped, so "nothing relevant" is an
 * empty list, not a guess.
 */
export function createHybridRetriever(deps: HybridRetrieverDeps, options: HybridRetrieverOptions): Retriever {
  return {
    async retrieve({ userId, query, vector, limit }) {
      const dense = await deps.index.search(userId, vector, options.candidates);
      if (dense.length === 0) return [];
      const denseScore = new Map(dense.map((d) => [d.chunk.id, d.score]));
      const lexical =
        options.ranking === 'dense'
          ? []
          : await deps.lexicalSearch(userId, queryWords(query), options.candidates);
      const byId = lexical.length > 0 ? await deps.index.chunksById(userId) : new Map<string, ChunkRef>();

      const fused = new Map<string, { chunk: ChunkRef; fused: number; cosine: number; lexical: boolean }>();
      const add = (chunk: ChunkRef, rank: number, cosine: number, isLexical: boolean) => {
        const entry = fused.get(chunk.id) ?? { chunk, fused: 0, cosine, lexical: false };
        entry.fused += (isLexical ? options.lexicalWeight : 1) / (options.rrfK + rank + 1);
        entry.lexical ||= isLexical;
        fused.set(chunk.id, entry);
      };
      if (options.ranking !== 'lexical') {
        dense.forEach((d, rank) => {
          add(d.chunk, rank, d.score, false);
        });
      }
      lexical.forEach((hit, rank) => {
        const chunk = byId.get(hit.id);
        // A lexical hit outside the dense candidates still has a cosine: compute it lazily below.
        if (chunk) add(chunk, rank, denseScore.get(hit.id) ?? Number.NaN, true);
      });

      const missing = [...fused.values()].filter((e) => Number.isNaN(e.cosine));
      if (missing.length > 0) {
        const all = await deps.index.search(userId, vector, Number.MAX_SAFE_INTEGER);
        const scores = new Map(all.map((d) => [d.chunk.id, d.score]));
        for (const entry of missing) entry.cosine = scores.get(entry.chunk.id) ?? 0;
      }

      return [...fused.values()]
        .filter((e) => e.cosine >= options.minScore || (e.lexical && e.cosine >= options.lexicalMinScore))
        .sort((a, b) => b.fused - a.fused)
        .slice(0, limit)
        .map((e) => toRetrieved(e.chunk, e.cosine));
    },
  };
}
