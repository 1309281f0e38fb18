// What the eval commands share: the repositories over a throw-away database, the indexer that
// chunks and embeds notes with the real model, and the in-memory vector index over them, all as
// the worker builds them but without Redis (the index reads the generation from Postgres).
import type { Config } from '@assistant/config';
import { createChunksRepo, type createDb, createNotesRepo } from '@assistant/db';
import type { EmbeddingModel } from '@assistant/embeddings';
import { createBatchingEmbedder } from '@assistant/embeddings';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { createIndexProcessor } from '../src/indexing/index-processor.ts';
import { createUserVectorIndex } from '../src/retrieval/user-vector-index.ts';

/** The indexing side of an eval run over `db` with the loaded `model`. */
export function createEvalIndex(
  db: ReturnType<typeof createDb>,
  model: EmbeddingModel,
  retrieval: Pick<Config['retrieval'], 'overlapTokens' | 'titleTokens'>,
) {
  const embedder = createBatchingEmbedder(model);
  const notesRepo = createNotesRepo(db.db);
  const chunks = createChunksRepo(db.db);
  const indexer = createIndexProcessor({
    chunks,
    embedder,
    tokenizer: model,
    // No Redis here: the vector index reads the generation straight from Postgres.
    generations: { publish: async (_userId, generation) => generation },
    metrics: createMetrics('eval'),
    logger: createLogger({ service: 'eval', level: 'silent' }),
    options: { overlapTokens: retrieval.overlapTokens, titleTokens: retrieval.titleTokens },
  });
  const index = createUserVectorIndex(
    { loadChunks: (id) => chunks.loadUserChunks(id), currentGeneration: (id) => notesRepo.generation(id) },
    { maxBytes: 64 * 1024 * 1024 },
  );
  return { embedder, notesRepo, chunks, indexer, index };
}
