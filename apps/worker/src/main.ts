import { ConfigError, loadConfig } from '@assistant/config';
import { createChunksRepo, createDb, createNotesRepo, createQueriesRepo, runMigrations } from '@assistant/db';
import { createBatchingEmbedder, defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import { createLlmProvider } from '@assistant/llm';
import {
  createEventStream,
  createIndexQueue,
  createKeys,
  createNotesGenerations,
  createRedis,
  QUEUE_NAMES,
  waitForRedis,
} from '@assistant/queue';
import { createHealthRoutes, createLogger, createMetrics } from '@assistant/telemetry';
import { serve } from '@hono/node-server';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Hono } from 'hono';
import { createAnswerProcessor } from './answer-processor.ts';
import { createIndexProcessor } from './indexing/index-processor.ts';
import { createPendingSweep } from './indexing/pending-sweep.ts';
import { createHybridRetriever } from './retrieval/hybrid-retriever.ts';
import { createUserVectorIndex } from './retrieval/user-vector-index.ts';

// A worker that dies mid-job loses its lock after this long; another worker then takes the job.
const LOCK_DURATION_MS = 30_000;
const STALLED_INTERVAL_MS = 15_000;

/** Composition root of a worker process. */
async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
  const logger = createLogger({ service: 'worker', level: config.log.level });
  const metrics = createMetrics('worker');
  const keys = createKeys(config.redis.prefix);

  if (config.db.migrateOnStart) await runMigrations(config.db.url);
  const db = createDb({ url: config.db.url, poolSize: config.db.poolSize });
  const redis = createRedis(config.redis.url, 'worker', 'worker');
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  await waitForRedis(redis);

  // The model is loaded once and kept warm for the life of the process.
  const modelStarted = performance.now();
  const model = await loadEmbeddingModel(defaultModelDir(config.embeddings));
  const warmupMs = await model.warmUp();
  const modelInfo = {
    id: model.modelId,
    dimension: model.dimension,
    load_ms: Math.round(performance.now() - modelStarted),
    warmup_ms: Math.round(warmupMs),
  };
  logger.info(modelInfo, 'embedding model ready');

  const queries = createQueriesRepo(db.db);
  const notes = createNotesRepo(db.db);
  const chunks = createChunksRepo(db.db);
  const embedder = createBatchingEmbedder(model);
  const generations = createNotesGenerations(redis, keys, (userId) => notes.generation(userId));
  const vectorIndex = createUserVectorIndex(
    {
      loadChunks: (userId) => chunks.loadUserChunks(userId),
      currentGeneration: (userId) => generations.current(userId),
    },
    { maxBytes: config.retrieval.cacheBytes },
  );
  const retriever = createHybridRetriever(
    {
      index: vectorIndex,
      lexicalSearch: (userId, words, limit) => chunks.lexicalSearch(userId, words, limit),
    },
    {
      ranking: config.retrieval.ranking,
      minScore: config.retrieval.minScore,
      lexicalMinScore: config.retrieval.lexicalMinScore,
      lexicalWeight: config.retrieval.lexicalWeight,
      rrfK: config.retrieval.rrfK,
      candidates: 30,
    },
  );
  const processor = createAnswerProcessor({
    queries,
    events: createEventStream(redis, keys, config.events),
    embedder,
    retriever,
    llm: createLlmProvider(config.llm),
    countTokens: (text) => model.countTokens(text),
    pricing: (provider) =>
      provider === 'extractive' ? { inputNanosPerToken: 0, outputNanosPerToken: 0 } : config.llm.pricing,
    metrics,
    logger,
    now: Date.now,
    options: {
      maxTokens: config.llm.maxTokens,
      maxContextTokens: config.retrieval.maxContextTokens,
      topK: config.retrieval.topK,
    },
  });

  const queue = new Queue(QUEUE_NAMES.answer, { connection: redis, prefix: keys.bullPrefix });
  await queue.setGlobalConcurrency(config.worker.globalConcurrency);
  const worker = new Worker(QUEUE_NAMES.answer, processor.processAnswerJob, {
    connection: redis,
    prefix: keys.bullPrefix,
    concurrency: config.worker.concurrency,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
    maxStalledCount: 2,
  });
  worker.on('failed', (job, error) => {
    // Safety net: a job failed for good outside the processor's own handling (e.g. it stalled
    // too often) still gets its one terminal event. failQuery is a no-op if one was published.
    if (!job) return;
    const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (final && typeof job.data?.query_id === 'string') {
      void processor
        .failQuery(job.data.query_id, {
          code: 'generation_failed',
          message: 'the answer could not be generated',
        })
        .catch((err: unknown) => logger.error({ err }, 'could not record a failed query'));
    }
  });
  worker.on('error', (err) => logger.error({ err }, 'worker error'));

  const indexer = createIndexProcessor({
    chunks,
    embedder,
    tokenizer: model,
    generations,
    metrics,
    logger,
    options: { overlapTokens: config.retrieval.overlapTokens, titleTokens: 24 },
  });
  const indexWorker = new Worker(QUEUE_NAMES.indexNotes, indexer.processIndexJob, {
    connection: redis,
    prefix: keys.bullPrefix,
    concurrency: 4,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
  });
  indexWorker.on('error', (err) => logger.error({ err }, 'index worker error'));
  const indexQueue = createIndexQueue(redis, keys, config.jobs);
  const sweep = createPendingSweep(
    { notes, indexQueue, logger, now: Date.now },
    { olderThanMs: 60_000, intervalMs: 60_000, batch: 500 },
  );
  sweep.start();

  const health = new Hono();
  health.route(
    '/',
    createHealthRoutes({
      registry: metrics.registry,
      checks: { redis: () => redis.ping(), postgres: () => db.ping(), model: async () => modelInfo },
    }),
  );
  const server = serve(
    { fetch: health.fetch, port: config.worker.port, hostname: config.worker.host },
    (info) => {
      logger.info({ port: info.port }, 'worker listening');
    },
  );

  let closing = false;
  async function shutdown(signal: string) {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'worker shutting down: finishing active jobs');
    const force = setTimeout(() => {
      logger.warn('grace period over, exiting with jobs still active');
      process.exit(1);
    }, config.shutdown.graceMs).unref();
    sweep.stop();
    await Promise.all([worker.close(), indexWorker.close()]);
    await Promise.all([queue.close(), indexQueue.close()]);
    server.close();
    await model.close();
    redis.disconnect();
    await db.close();
    clearTimeout(force);
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('worker failed to start:', error);
  process.exit(1);
});
