import {
  createAnswerCache,
  createCachedEmbedder,
  createCacheEpochs,
  createContextCache,
  createEmbeddingCache,
  createSemanticCache,
  createSingleFlight,
} from '@assistant/cache';
import { answerSettings, type Config } from '@assistant/config';
import {
  createChunksRepo,
  createCostsRepo,
  createDb,
  createNotesRepo,
  createQueriesRepo,
} from '@assistant/db';
import { createBatchingEmbedder, defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import { createAdmission, createBudget, createRunSlots } from '@assistant/limits';
import {
  type Breaker,
  createBreaker,
  createExtractiveProvider,
  createFallbackChain,
  createLlmProvider,
  type FallbackLink,
} from '@assistant/llm';
import {
  connectRedis,
  createCostQueue,
  createEventStream,
  createIndexQueue,
  createKeys,
  createNotesGenerations,
  QUEUE_NAMES,
} from '@assistant/queue';
import { createHealthRoutes, type Logger, type Metrics } from '@assistant/telemetry';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Hono } from 'hono';
import { createAnswerPipeline } from './answer-pipeline.ts';
import { createAnswerProcessor } from './answer-processor.ts';
import { createCostProcessor } from './cost-processor.ts';
import { createIndexProcessor } from './indexing/index-processor.ts';
import { createPendingSweep } from './indexing/pending-sweep.ts';
import type { Excerpts } from './pipeline/build-context.ts';
import { createHybridRetriever } from './retrieval/hybrid-retriever.ts';
import { createUserVectorIndex } from './retrieval/user-vector-index.ts';

/**
 * Stalled-job recovery: a worker that dies mid-job stops renewing its lock; after `lockDuration`
 * (WORKER_LOCK_MS, 30 s) the lock expires and the next stalled check (every
 * WORKER_STALLED_INTERVAL_MS, 15 s) puts the job back, to be taken by another worker. A job may
 * stall `maxStalledCount` times before it fails for good. So a crash delays its answers by at
 * most lock + interval (~45 s by default) before they restart.
 */
function stallPolicy(worker: Config['worker']) {
  return { lockDuration: worker.lockMs, stalledInterval: worker.stalledIntervalMs, maxStalledCount: 2 };
}

const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * Builds a worker process's clients once from validated config: the warm ONNX model, the caches,
 * breakers per model, the three BullMQ workers, and the health app. Nothing starts consuming
 * until `start()`.
 */
export async function buildWorker(config: Config, observability: { logger: Logger; metrics: Metrics }) {
  const { logger, metrics } = observability;
  const keys = createKeys(config.redis.prefix);
  const db = createDb({ url: config.db.url, poolSize: config.db.poolSize });
  const redis = await connectRedis(config.redis.url, 'worker', 'worker', logger);
  const eventsRedis = await connectRedis(config.redis.url, 'events', 'worker-events', logger);
  const events = createEventStream(eventsRedis, keys, config.events);

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

  const onCacheEvent = (tier: string, outcome: string) => metrics.cacheEvents.inc({ tier, outcome });
  const queries = createQueriesRepo(db.db);
  const notes = createNotesRepo(db.db);
  const chunks = createChunksRepo(db.db);
  const embedder = createCachedEmbedder(
    createBatchingEmbedder(model),
    createEmbeddingCache(redis, keys, { modelId: model.modelId }, { onCacheEvent }),
  );
  const generations = createNotesGenerations(redis, keys, (userId) => notes.generation(userId));
  const epochs = createCacheEpochs(redis, keys, { loadGeneration: (userId) => generations.current(userId) });
  const answerCache = createAnswerCache(redis, keys, {}, { onCacheEvent });
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

  // One breaker per model, shared by every job of this process.
  const breakers: Breaker[] = [];
  const links: FallbackLink[] = [];
  const llm = config.llm;
  if (llm.provider !== 'extractive') {
    for (const model of [llm.model, ...(llm.fallbackModel ? [llm.fallbackModel] : [])]) {
      const provider = createLlmProvider({ ...llm, model });
      const breaker = createBreaker(
        {
          provider: llm.provider,
          model,
          failureThreshold: llm.breaker.failures,
          failureWindowMs: llm.breaker.windowMs,
          resetTimeoutMs: llm.breaker.openMs,
          timeoutMs: llm.timeoutMs,
        },
        {
          onStateChange: (name, state) =>
            metrics.breakerState.set({ breaker: name }, BREAKER_STATE_VALUE[state]),
          onEvent: (name, event) => metrics.breakerEvents.inc({ breaker: name, event }),
          logger,
        },
      );
      breakers.push(breaker);
      links.push({ provider, breaker });
    }
  }
  const extractive = createExtractiveProvider();
  const settings = answerSettings(llm);
  const noCost = { inputNanosPerToken: 0, outputNanosPerToken: 0 };
  const budget = createBudget(redis, keys);

  const pipeline = createAnswerPipeline({
    embedder,
    retriever,
    chainFor: ({ state, query, useCache }) =>
      createFallbackChain(
        {
          links,
          // Before the offline answer: the same question answered earlier, if still valid.
          cachedAnswer: async () => {
            if (!useCache) return undefined;
            const hit = await answerCache.get({
              state,
              query,
              settings,
              currentVersions: (ids) => notes.versions(state.userId, ids),
            });
            if (!hit) return undefined;
            return {
              text: hit.answer,
              provider: hit.provider as 'hf',
              model: hit.model,
              usage: { promptTokens: 0, completionTokens: 0 },
              finishReason: 'stop',
              truncated: hit.truncated,
            };
          },
          extractive,
        },
        { logger },
      ),
    countTokens: (text) => model.countTokens(text),
    pricing: (provider, model) => (provider === 'extractive' ? noCost : llm.pricing(model)),
    worstCasePricing: links.reduce((worst, link) => {
      const p = llm.pricing(link.provider.model);
      return {
        inputNanosPerToken: Math.max(worst.inputNanosPerToken, p.inputNanosPerToken),
        outputNanosPerToken: Math.max(worst.outputNanosPerToken, p.outputNanosPerToken),
      };
    }, noCost),
    epochs,
    answerCache,
    semanticCache: createSemanticCache(redis, keys, {}, { onCacheEvent }),
    contextCache: createContextCache<Excerpts>(
      { maxBytes: config.retrieval.contextCacheBytes, ttlMs: config.retrieval.contextCacheTtlMs },
      { onCacheEvent },
    ),
    budget,
    costQueue: createCostQueue(redis, keys, { ...config.jobs, attempts: 50, backoffMs: 2_000 }),
    queries,
    events,
    metrics,
    now: Date.now,
    settings,
    global: { dailyBudgetMicros: config.limits.global.dailyBudgetMicros },
    options: {
      maxTokens: llm.maxTokens,
      maxContextTokens: config.retrieval.maxContextTokens,
      topK: config.retrieval.topK,
      tokenBatch: config.retrieval.tokenBatch,
    },
  });

  const processor = createAnswerProcessor({
    pipeline,
    queries,
    events,
    runSlots: createRunSlots(redis, keys, { leaseMs: config.worker.lockMs }),
    admission: createAdmission(redis, keys),
    budget,
    singleFlight: createSingleFlight(redis, keys),
    metrics,
    logger,
    now: Date.now,
    random: Math.random,
    options: { runSlotLeaseMs: config.worker.lockMs, runSlotRetryMs: 500, databaseOutageMaxWaitMs: 600_000 },
  });
  const indexer = createIndexProcessor({
    chunks,
    embedder,
    tokenizer: model,
    generations,
    metrics,
    logger,
    options: { overlapTokens: config.retrieval.overlapTokens, titleTokens: 24 },
  });
  const indexQueue = createIndexQueue(redis, keys, config.jobs);
  const sweep = createPendingSweep(
    { notes, indexQueue, logger, now: Date.now },
    { olderThanMs: 60_000, intervalMs: 60_000, batch: 500 },
  );
  const answerQueue = new Queue(QUEUE_NAMES.answer, { connection: redis, prefix: keys.bullPrefix });

  // Queue depth for the backlog alert, read from BullMQ when Prometheus scrapes (any one worker's
  // figure is the queue's: they all read the same Redis).
  const depthQueues = [answerQueue, indexQueue.queue];
  const queueDepth = async () => {
    for (const queue of depthQueues) {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'prioritized');
      for (const [state, count] of Object.entries(counts))
        metrics.queueJobs.set({ queue: queue.name, state }, count);
    }
  };
  const workers: Worker[] = [];
  const bullOptions = {
    connection: redis,
    prefix: keys.bullPrefix,
    autorun: false,
    ...stallPolicy(config.worker),
  };

  const health = new Hono();
  health.route(
    '/',
    createHealthRoutes({
      registry: metrics.registry,
      checks: { redis: () => redis.ping(), postgres: () => db.ping(), model: async () => modelInfo },
      beforeScrape: () =>
        queueDepth().catch((err: unknown) => logger.warn({ err }, 'queue depth unavailable')),
    }),
  );

  return {
    health,
    modelInfo,
    async start() {
      await answerQueue.setGlobalConcurrency(config.worker.globalConcurrency);
      const answers = new Worker(QUEUE_NAMES.answer, processor.processAnswerJob, {
        ...bullOptions,
        concurrency: config.worker.concurrency,
      });
      answers.on('failed', (job, error) => {
        // Safety net: a job that failed for good outside the processor's own handling (it stalled
        // too often) still gets its one terminal event; failQuery is a no-op if one was published.
        if (!job) return;
        const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
        if (final && typeof job.data?.query_id === 'string') {
          void processor
            .failQuery(job.data, { code: 'generation_failed', message: 'the answer could not be generated' })
            .catch((err: unknown) => logger.error({ err }, 'could not record a failed query'));
        }
      });
      // A job whose lock could not be renewed now belongs to whichever worker takes it next: stop
      // its LLM call (the stream guard already refuses this run's appends).
      answers.on('lockRenewalFailed', (jobIds) => {
        for (const id of jobIds) answers.cancelJob(id, 'lock lost');
      });
      const index = new Worker(QUEUE_NAMES.indexNotes, indexer.processIndexJob, {
        ...bullOptions,
        concurrency: 2,
      });
      const costs = new Worker(
        QUEUE_NAMES.settleCosts,
        createCostProcessor({ costs: createCostsRepo(db.db) }),
        {
          ...bullOptions,
          concurrency: 4,
        },
      );
      for (const worker of [answers, index, costs]) {
        worker.on('error', (err) => logger.error({ err }, 'worker error'));
        workers.push(worker);
        void worker.run();
      }
      sweep.start();
    },
    /** Stops taking jobs, waits for active ones (the caller bounds the wait), then closes clients. */
    async close() {
      sweep.stop();
      await Promise.all(workers.map((w) => w.close()));
      for (const breaker of breakers) breaker.close();
      await Promise.allSettled([answerQueue.close(), indexQueue.close()]);
      await model.close();
      redis.disconnect();
      eventsRedis.disconnect();
      await db.close();
    },
  };
}
