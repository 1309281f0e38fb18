import type { StoredChunk } from '@assistant/db';
import { LRUCache } from 'lru-cache';
import type { RetrievedChunk } from '../pipeline/retrieve.ts';
import { buildLexicalIndex, type LexicalIndex } from './lexical-index.ts';

/**
 * A chunk as retrieval returns it: enough to cite it and to check it is still current, and its
 * stored vector (a view of the matrix row, not a copy) for the answer scorer.
 */
export type ChunkRef = Omit<StoredChunk, 'embedding'> & { vector?: Float32Array };

/**
 * One user's chunks as a dense row-major matrix and a BM25 index over the same rows, valid for
 * one notes generation.
 */
type UserMatrix = {
  generation: number;
  chunks: ChunkRef[];
  matrix: Float32Array;
  dimension: number;
  lexical: LexicalIndex;
};

/** Deps of {@link createUserVectorIndex}. */
export type UserVectorIndexDeps = {
  loadChunks: (userId: string) => Promise<StoredChunk[]>;
  currentGeneration: (userId: string) => Promise<number>;
};

/** Options of {@link createUserVectorIndex}. */
export type UserVectorIndexOptions = {
  /** Memory bound of all cached matrices together. @defaultValue 256 MiB */
  maxBytes: number;
};

function toMatrix(generation: number, stored: StoredChunk[]): UserMatrix {
  const first = stored[0];
  const dimension = first ? first.embedding.byteLength / 4 : 0;
  const matrix = new Float32Array(stored.length * dimension);
  const chunks: ChunkRef[] = [];
  stored.forEach((chunk, row) => {
    // Copy out of the driver's buffer (its offset need not be 4-aligned).
    const bytes = new Uint8Array(
      chunk.embedding.buffer,
      chunk.embedding.byteOffset,
      chunk.embedding.byteLength,
    );
    new Uint8Array(matrix.buffer, row * dimension * 4, dimension * 4).set(bytes);
    const { embedding: _, ...ref } = chunk;
    chunks.push({ ...ref, vector: matrix.subarray(row * dimension, (row + 1) * dimension) });
  });
  const lexical = buildLexicalIndex(chunks.map((chunk) => `${chunk.title}\n${chunk.text}`));
  return { generation, chunks, matrix, dimension, lexical };
}

/**
 * Dense search over each user's chunks from an in-memory matrix, so a question does not re-read
 * every vector from Postgres. A matrix is rebuilt when the user's notes generation moves on;
 * matrices are evicted least-recently-used within a byte budget. Concurrent loads of the same
 * user share one Postgres read.
 */
export function createUserVectorIndex(deps: UserVectorIndexDeps, options: UserVectorIndexOptions) {
  const cache = new LRUCache<string, UserMatrix>({
    maxSize: options.maxBytes,
    sizeCalculation: (entry) =>
      Math.max(1, entry.matrix.byteLength + entry.chunks.length * 512 + entry.lexical.bytes),
  });
  const loading = new Map<string, Promise<UserMatrix>>();

  async function matrixOf(userId: string): Promise<UserMatrix> {
    const generation = await deps.currentGeneration(userId);
    const cached = cache.get(userId);
    if (cached && cached.generation === generation) return cached;
    const key = `${userId}:${generation}`;
    let pending = loading.get(key);
    if (!pending) {
      pending = deps
        .loadChunks(userId)
        .then((stored) => {
          const built = toMatrix(generation, stored);
          cache.set(userId, built);
          return built;
        })
        .finally(() => loading.delete(key));
      loading.set(key, pending);
    }
    return pending;
  }

  return {
    /** Every chunk of the user scored by cosine to `vector` (unit vectors: a dot product), best first. */
    async search(
      userId: string,
      vector: Float32Array,
      limit: number,
    ): Promise<{ chunk: ChunkRef; score: number }[]> {
      const { chunks, matrix, dimension } = await matrixOf(userId);
      if (chunks.length === 0) return [];
      if (vector.length !== dimension) {
        throw new Error(`query vector has ${vector.length} dimensions, stored chunks have ${dimension}`);
      }
      const scored = chunks.map((chunk, row) => {
        let sum = 0;
        const offset = row * dimension;
        for (let i = 0; i < dimension; i++) sum += matrix[offset + i]! * vector[i]!;
        return { chunk, score: sum };
      });
      scored.sort((a, b) => b.score - a.score);
      return scored.slice(0, limit);
    },
    /**
     * The user's chunks with the cosine of every row to `vector` (row order) and the BM25 index
     * of the same rows: one generation, one snapshot, for rankings that fuse both.
     */
    async scoreAll(
      userId: string,
      vector: Float32Array,
    ): Promise<{ chunks: ChunkRef[]; cosines: Float32Array; lexical: LexicalIndex }> {
      const { chunks, matrix, dimension, lexical } = await matrixOf(userId);
      const cosines = new Float32Array(chunks.length);
      if (chunks.length > 0 && vector.length !== dimension) {
        throw new Error(`query vector has ${vector.length} dimensions, stored chunks have ${dimension}`);
      }
      for (let row = 0; row < chunks.length; row++) {
        let sum = 0;
        const offset = row * dimension;
        for (let i = 0; i < dimension; i++) sum += matrix[offset + i]! * vector[i]!;
        cosines[row] = sum;
      }
      return { chunks, cosines, lexical };
    },
    /** Chunk refs of a user by id (for lexical hits), from the same cached matrix. */
    async chunksById(userId: string): Promise<Map<string, ChunkRef>> {
      const { chunks } = await matrixOf(userId);
      return new Map(chunks.map((chunk) => [chunk.id, chunk]));
    },
    /** Bytes held now. */
    size: () => cache.calculatedSize,
  };
}

/** A chunk as the pipeline takes it, with its score rounded for display. */
export function toRetrieved(chunk: ChunkRef, score: number): RetrievedChunk {
  return {
    chunkId: chunk.id,
    noteId: chunk.noteId,
    noteVersion: chunk.noteVersion,
    title: chunk.title,
    text: chunk.text,
    score: Math.round(score * 1e4) / 1e4,
    ...(chunk.vector ? { vector: chunk.vector } : {}),
  };
}

/** The index's interface. */
export type UserVectorIndex = ReturnType<typeof createUserVectorIndex>;
