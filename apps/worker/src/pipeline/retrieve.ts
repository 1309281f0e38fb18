import type { SourceText } from '@assistant/llm';

/** Input of a retrieval: whose notes, the question and its vector. */
export type RetrieveInput = { userId: string; query: string; vector: Float32Array; limit: number };

/**
 * A retrieved chunk: a citable source plus what identifies its exact text, and its stored vector
 * when the retriever holds it (the answer scorer then embeds only the answer).
 */
export type RetrievedChunk = SourceText & { chunkId: string; noteVersion: number; vector?: Float32Array };

/**
 * Finds the asking user's most relevant note chunks, best first. Only that user's notes are ever
 * searched. An interface, so the in-memory matrix, pgvector or an external store can serve.
 */
export type Retriever = { retrieve(input: RetrieveInput): Promise<RetrievedChunk[]> };
