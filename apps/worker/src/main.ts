import { ConfigError, loadConfig } from '@assistant/config';
import { createDb, createQueriesRepo, runMigrations } from '@assistant/db';
import { createBatchingEmbedder, defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import { createLlmProvider } from '@assistant/llm';
import { createEventStream, createKeys, createRedis, QUEUE_NAMES, waitForRedis } from '@assistant/queue';
import { createHealthRoutes, createLogger, createMetrics } from '@assistant/telemetry';
import { serve } from '@hono/node-server';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Hono } from 'hono';
import { createAnswerProcessor } from './answer-processor.ts';
import { createEmptyRetriever } from './pipeline/retrieve.ts';

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
  const processor = createAnswerProcessor({
    queries,
    events: createEventStream(redis, keys, config.events),
    embedder: createBatchingEmbedder(model),
    retriever: createEmptyRetriever(),
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
    await worker.close();
    await queue.close();
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
