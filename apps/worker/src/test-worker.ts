import {
  createChunksRepo,
  createDb,
  createNotesRepo,
  createQueriesRepo,
  createUsersRepo,
  type NoteFields,
  type TierName,
} from '@assistant/db';
import type { EmbeddingModel } from '@assistant/embeddings';
import { defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import { createKeys } from '@assistant/queue';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { createTestDatabase, createTestRedis } from '@assistant/testing';

/**
 * What the worker's integration tests share: a test file's own database and Redis prefix, the
 * real repositories over them, and (on request) the real ONNX model. Test-only.
 */
export async function createWorkerTestEnv(label: string, options: { model?: boolean } = {}) {
  const testRedis = await createTestRedis(label);
  const database = await createTestDatabase(label);
  const db = createDb({ url: database.url, poolSize: 4 });
  const model: EmbeddingModel | undefined = options.model
    ? await loadEmbeddingModel(defaultModelDir(process.env), { intraOpNumThreads: 2 })
    : undefined;
  const users = createUsersRepo(db.db);
  const notes = createNotesRepo(db.db);

  return {
    testRedis,
    redis: testRedis.redis,
    keys: createKeys(testRedis.prefix),
    database,
    db,
    users,
    notes,
    chunks: createChunksRepo(db.db),
    queries: createQueriesRepo(db.db),
    logger: createLogger({ service: `${label}-test`, level: 'silent' }),
    metrics: createMetrics('worker'),
    /** The loaded model; throws if the env was created without one. */
    model(): EmbeddingModel {
      if (!model) throw new Error('createWorkerTestEnv was called without { model: true }');
      return model;
    },
    /** A new user of `tier`; returns its id. */
    async createUser(tier: TierName = 'free'): Promise<string> {
      return (await users.createUserWithKey({ tier })).id;
    },
    /** Stores one note of a user (pending indexing) and returns it. */
    async createNote(userId: string, fields: Partial<NoteFields> & { title: string; body: string }) {
      const { notes: rows } = await notes.create(userId, [{ tags: [], ...fields }]);
      return rows[0]!;
    },
    async close() {
      await model?.close();
      await db.close();
      await testRedis.cleanup();
      await database.drop();
    },
  };
}

/** The shared test environment's type. */
export type WorkerTestEnv = Awaited<ReturnType<typeof createWorkerTestEnv>>;
