import { randomUUID } from 'node:crypto';
import { loadConfig } from '@assistant/config';
import type { AnswerJob, Tier } from '@assistant/contracts';
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
import {
  createAnswerQueue,
  createEventStream,
  createIndexQueue,
  createKeys,
  type StoredEvent,
} from '@assistant/queue';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { createTestDatabase, createTestRedis, waitUntil } from '@assistant/testing';
import { buildWorker } from './compose.ts';

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

/**
 * The real worker (`buildWorker` of compose.ts, started) over a test env's database and Redis
 * prefix, with the producers the API would use to hand it work. `env` adds settings (the LLM).
 */
export async function startTestWorker(t: WorkerTestEnv, env: Record<string, string> = {}) {
  const config = loadConfig({
    REDIS_URL: t.testRedis.url,
    REDIS_PREFIX: t.testRedis.prefix,
    DATABASE_URL: t.database.url,
    DATABASE_POOL_SIZE: '4',
    ADMIN_TOKEN: 'test-admin-token-0123456789',
    JOB_BACKOFF_MS: '100',
    WORKER_CONCURRENCY: '4',
    // As in startStack: tests of the no_context outcome set 'gate'.
    RETRIEVAL_ANSWERABILITY: 'off',
    EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR,
    ...env,
  });
  const worker = await buildWorker(config, { logger: t.logger, metrics: createMetrics('worker') });
  await worker.start();
  const answerQueue = createAnswerQueue(t.redis, t.keys, config.jobs);
  const indexQueue = createIndexQueue(t.redis, t.keys, config.jobs);
  const events = createEventStream(t.redis, t.keys, config.events);

  /** Stores a queued query as the API does, and returns its job (not yet enqueued). */
  async function queueQuery(
    userId: string,
    query: string,
    options: { tier?: Tier; limits?: Partial<AnswerJob['limits']>; bypassCache?: boolean } = {},
  ): Promise<AnswerJob> {
    const id = `q_${randomUUID().replaceAll('-', '')}`;
    const requestId = `req_${id}`;
    await t.queries.insertQueued({ id, userId, query, requestId });
    await events.append(id, { type: 'queued', query_id: id });
    const tier = options.tier ?? 'free';
    // The tier's row of the config, as the API puts it on the job.
    const { maxRunning, dailyBudgetMicros } = config.limits.tiers[tier];
    return {
      query_id: id,
      user_id: userId,
      request_id: requestId,
      tier,
      limits: { maxRunning, dailyBudgetMicros, ...options.limits },
      bypass_cache: options.bypassCache ?? false,
      trace: {},
      enqueued_at: Date.now(),
    };
  }

  /** Waits until the query's row is finished (succeeded or failed) and returns it. */
  async function waitFinished(queryId: string, timeoutMs = 30_000) {
    return waitUntil(
      async () => {
        const row = await t.queries.find(queryId);
        return row && (row.status === 'succeeded' || row.status === 'failed') ? row : undefined;
      },
      { what: `query ${queryId} finished`, timeoutMs, intervalMs: 50 },
    );
  }

  /** Waits until the query's stream holds a terminal event, and returns the whole stream. */
  async function waitTerminal(queryId: string, timeoutMs = 30_000): Promise<StoredEvent[]> {
    return waitUntil(
      async () => {
        const stored = await events.readAfter(queryId, '0');
        return stored.some((e) => e.event.type === 'done' || e.event.type === 'error') ? stored : undefined;
      },
      { what: `query ${queryId} ended on its stream`, timeoutMs, intervalMs: 50 },
    );
  }

  /** Stores a note and indexes it through the worker's own index queue; resolves once indexed. */
  async function indexedNote(userId: string, note: { title: string; body: string }) {
    const stored = await t.createNote(userId, note);
    await indexQueue.enqueue({ user_id: userId, note_id: stored.id, version: stored.version });
    await waitUntil(async () => (await t.notes.get(userId, stored.id))?.indexStatus === 'indexed', {
      what: `note ${stored.id} indexed`,
      intervalMs: 50,
    });
    return stored;
  }

  return {
    config,
    worker,
    answerQueue,
    indexQueue,
    events,
    queueQuery,
    waitFinished,
    waitTerminal,
    indexedNote,
    async close() {
      await worker.close();
      for (const producer of [answerQueue, indexQueue]) {
        await producer.queue.obliterate({ force: true }).catch(() => {});
        await producer.close();
      }
    },
  };
}

/** The started test worker's type. */
export type TestWorker = Awaited<ReturnType<typeof startTestWorker>>;
