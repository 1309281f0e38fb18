import {
  createAnswerCache,
  createCachedEmbedder,
  createCacheEpochs,
  createContextCache,
  createEmbeddingCache,
  createSemanticCache,
  createSingleFlight,
} from '@assistant/cache';
import { answerSettings, type Config, limitsFor } from '@assistant/config';
import {
  createChunksRepo,
  createCostsRepo,
  createDb,
  createExperimentsRepo,
  createNotesRepo,
  createQueriesRepo,
  createUsersRepo,
  utcDay,
} from '@assistant/db';
import { createBatchingEmbedder, defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import {
  assignedVariantOf,
  createCanaryGuard,
  createCanaryStats,
  createFlagSnapshot,
  createFlagStore,
} from '@assistant/flags';
import { createAdmission, createBudget, createRunSlots } from '@assistant/limits';
import {
  createExtractiveProvider,
  createFallbackChain,
  createModelLinks,
  worstCasePricing,
} from '@assistant/llm';
import {
  connectRedis,
  createAnswerQueue,
  createEventStream,
  createIndexQueue,
  createKeys,
  createNotesGenerations,
  createQueueDepthGauge,
  QUEUE_NAMES,
} from '@assistant/queue';
import {
  createHealthRoutes,
  createLabelFolder,
  createRolloutMetrics,
  type Logger,
  type Metrics,
  registerLedgerGauges,
} from '@assistant/telemetry';
import { MetricsTime, Queue, Worker } from 'bullmq';
import { Hono } from 'hono';
import { createAnswerPipeline } from './answer-pipeline.ts';
import { createAnswerProcessor, failAbandonedJob } from './answer-processor.ts';
import { createIndexProcessor } from './indexing/index-processor.ts';
import { createPendingSweep } from './indexing/pending-sweep.ts';
import type { Excerpts } from './pipeline/build-context.ts';
import { createCachedGeneration } from './pipeline/cached-generation.ts';
import { loadRoutingCentroids } from './pipeline/routing-centroids.ts';
import { SCORE_DEFAULTS } from './pipeline/score-answer.ts';
import { createQueryReconciler } from './reconcile-queries.ts';
import { ALWAYS_ANSWERABLE, createFusedRetriever, FUSED_DEFAULTS } from './retrieval/fused-retriever.ts';
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
/** How old the ledger figures on /metrics may be: one Postgres read per 15 s at most, however often scraped. */
const LEDGER_GAUGE_MAX_AGE_MS = 15_000;

/**
 * Builds a worker process's clients once from validated config: the warm ONNX model, the caches,
 * breakers per model, the two BullMQ workers, and the health app. Nothing starts consuming
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
  const model = await loadEmbeddingModel(defaultModelDir(config.embeddings), {
    intraOpNumThreads: config.worker.embeddingThreads,
  });
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
  // One batcher for the model: the answer scorer's sentences share its inferences.
  const batchingEmbedder = createBatchingEmbedder(model);
  const embedder = createCachedEmbedder(
    batchingEmbedder,
    createEmbeddingCache(redis, keys, { modelId: model.modelId }, { onCacheEvent }),
    { onStoreError: (err) => logger.warn({ err }, 'embedding cache write failed') },
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
  const ranking = config.retrieval.ranking;
  const retriever =
    ranking === 'fused'
      ? createFusedRetriever(
          { index: vectorIndex },
          {
            ...FUSED_DEFAULTS,
            minScore: config.retrieval.minScore,
            ...(config.retrieval.answerability === 'off' ? { answerability: ALWAYS_ANSWERABLE } : {}),
          },
        )
      : createHybridRetriever(
          {
            index: vectorIndex,
            lexicalSearch: (userId, words, limit) => chunks.lexicalSearch(userId, words, limit),
          },
          {
            ranking,
            minScore: config.retrieval.minScore,
            lexicalMinScore: config.retrieval.lexicalMinScore,
            lexicalWeight: config.retrieval.lexicalWeight,
            rrfK: config.retrieval.rrfK,
            candidates: config.retrieval.candidates,
          },
        );

  // One provider and breaker per model, and one fallback chain, shared by every job of this process.
  const llm = config.llm;
  const models = createModelLinks(llm, {
    onStateChange: (name, state) => metrics.breakerState.set({ breaker: name }, BREAKER_STATE_VALUE[state]),
    onEvent: (name, event) => metrics.breakerEvents.inc({ breaker: name, event }),
    logger,
  });
  const extractive = createExtractiveProvider();
  const chain = createFallbackChain(
    { links: models.links, extractive, unguardedTimeoutMs: llm.timeoutMs },
    { logger },
  );
  // Chains that start with an experiment variant's or a routing class's model, built on first use
  // and kept (each model its own breaker), then the configured fallback model.
  const variantChains = new Map<
    string,
    { chain: typeof chain; worstCasePricing: ReturnType<typeof worstCasePricing>; close(): void }
  >();
  const chainFor = (model: string) => {
    const known = variantChains.get(model);
    if (known) return known;
    const variantModels = createModelLinks(
      { ...llm, model },
      {
        onStateChange: (name, state) =>
          metrics.breakerState.set({ breaker: name }, BREAKER_STATE_VALUE[state]),
        onEvent: (name, event) => metrics.breakerEvents.inc({ breaker: name, event }),
        logger,
      },
    );
    const built = {
      chain: createFallbackChain(
        { links: variantModels.links, extractive, unguardedTimeoutMs: llm.timeoutMs },
        { logger },
      ),
      worstCasePricing: worstCasePricing(variantModels.links, llm.pricing),
      close: () => variantModels.close(),
    };
    variantChains.set(model, built);
    return built;
  };

  // Feature flags: an in-process copy, refreshed in the background; the canary guard watches
  // the flags in partial rollout and rolls them back by itself.
  const rollout = createRolloutMetrics(metrics.registry);
  const flagStore = createFlagStore(redis, keys, { now: Date.now });
  const flags = createFlagSnapshot(
    {
      store: flagStore,
      defaultOff: config.flags.defaultOff,
      logger,
      onReload: (all) => {
        for (const f of all)
          rollout.flagRollout.set({ flag: f.name }, f.rule.enabled ? f.rule.percentage : 0);
      },
    },
    { refreshMs: config.flags.refreshMs },
  );
  await flags.start();
  const canaryStats = createCanaryStats(redis, keys, { flags });
  const canaryGuard = createCanaryGuard(
    {
      flags,
      stats: canaryStats,
      store: flagStore,
      now: Date.now,
      logger,
      onBreach: (flag, trigger, holding) => rollout.canaryBreach.set({ flag, trigger }, holding ? 1 : 0),
      onRollback: (flag, trigger) => rollout.canaryRollbacks.inc({ flag, trigger }),
    },
    config.flags.canary,
  );
  // Escalation's stronger chain: the default chain when it is the default model, else its own.
  const escalationModel = config.quality.escalationModel;
  const escalationChain =
    escalationModel === undefined
      ? undefined
      : escalationModel === llm.model
        ? { chain, worstCasePricing: worstCasePricing(models.links, llm.pricing) }
        : chainFor(escalationModel);
  const settings = answerSettings(llm);
  // The classifier's centroid rule, for the loaded embedding model only.
  const routingCentroids = llm.routing.centroids ? loadRoutingCentroids(model) : undefined;
  if (llm.routing.centroids && !routingCentroids) {
    logger.warn(
      { model: model.modelId },
      'no routing centroids for this embedding model: the centroid rule is off',
    );
  }
  const noCost = { inputNanosPerToken: 0, outputNanosPerToken: 0 };
  const budget = createBudget(redis, keys);
  const costs = createCostsRepo(db.db);
  const tierBudgets = Object.fromEntries(
    Object.entries(config.limits.tiers).map(([tier, limits]) => [tier, limits.dailyBudgetMicros]),
  );
  registerLedgerGauges(
    metrics.registry,
    {
      usersOverDailyBudget: () => costs.usersAtDailyBudget(utcDay(Date.now()), tierBudgets),
    },
    { maxAgeMs: LEDGER_GAUGE_MAX_AGE_MS },
  );

  const pipeline = createAnswerPipeline({
    embedder,
    retriever,
    chain,
    cachedAnswer: createCachedGeneration({ answerCache, notes, settings }),
    countTokens: (text) => model.countTokens(text),
    pricing: (provider, model) => (provider === 'extractive' ? noCost : llm.pricing(model)),
    worstCasePricing: worstCasePricing(models.links, llm.pricing),
    chainFor,
    // Answer sentences skip the Redis embedding cache (they rarely repeat), not the batcher.
    scoring: {
      embedder: batchingEmbedder,
      options: { ...SCORE_DEFAULTS, maxEmbedded: config.quality.embeddedSentences },
    },
    escalation:
      escalationModel && escalationChain
        ? {
            model: escalationModel,
            threshold: config.quality.escalationThreshold,
            chain: escalationChain.chain,
            worstCasePricing: escalationChain.worstCasePricing,
          }
        : undefined,
    epochs,
    answerCache,
    notes,
    semanticCache: createSemanticCache(redis, keys, {}, { onCacheEvent }),
    contextCache: createContextCache<Excerpts>(
      { maxBytes: config.retrieval.contextCacheBytes, ttlMs: config.retrieval.contextCacheTtlMs },
      { onCacheEvent },
    ),
    budget,
    costs,
    queries,
    events,
    metrics,
    modelLabel: createLabelFolder(llm.knownModels),
    now: Date.now,
    settings,
    global: { dailyBudgetMicros: config.limits.global.dailyBudgetMicros },
    options: {
      maxTokens: llm.maxTokens,
      maxContextTokens: config.retrieval.maxContextTokens,
      topK: config.retrieval.topK,
      noContext: config.retrieval.answerability === 'gate',
      tokenBatch: config.retrieval.tokenBatch,
      classifier: {
        complexMinWords: llm.routing.complexMinWords,
        complexMinNotes: llm.routing.complexMinNotes,
        centroids: routingCentroids,
      },
      routing: {
        defaultModel: llm.model,
        models: llm.routing.models,
      },
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
    flags,
    onFinished: (finished) => {
      void canaryStats
        .recordQuery(finished)
        .catch((err: unknown) => logger.warn({ err }, 'canary counters unavailable'));
    },
    options: {
      runSlotLeaseMs: config.worker.lockMs,
      runSlotRetryMs: config.worker.runSlotRetryMs,
      databaseOutageMaxWaitMs: config.worker.databaseOutageMaxWaitMs,
    },
  });
  const indexer = createIndexProcessor({
    chunks,
    embedder,
    tokenizer: model,
    generations,
    metrics,
    logger,
    options: { overlapTokens: config.retrieval.overlapTokens, titleTokens: config.retrieval.titleTokens },
  });
  const indexQueue = createIndexQueue(redis, keys, config.jobs);
  const sweep = createPendingSweep({ notes, indexQueue, logger, now: Date.now }, config.pendingSweep);
  const answerQueue = new Queue(QUEUE_NAMES.answer, {
    connection: redis,
    prefix: keys.bullPrefix(QUEUE_NAMES.answer),
  });
  const answerProducer = createAnswerQueue(redis, keys, config.jobs);
  const users = createUsersRepo(db.db);
  const experiments = createExperimentsRepo(db.db);
  const reconciler = createQueryReconciler(
    {
      queries,
      jobState: (queryId) => answerQueue.getJobState(queryId),
      removeJob: (queryId) => answerQueue.remove(queryId).then(() => undefined),
      enqueue: (job) => answerProducer.enqueue(job),
      askerOf: async (userId) => {
        const user = await users.findUser(userId);
        if (!user) return undefined;
        const limits = limitsFor(user, config.limits.tiers);
        return {
          tier: user.tier,
          limits: { maxRunning: limits.maxRunning, dailyBudgetMicros: limits.dailyBudgetMicros },
        };
      },
      fail: (job, failure) => processor.failQuery(job, failure),
      // A re-run answers under the variant the question was assigned (its model and prompt).
      variantOf: async (row) => {
        if (!row.experimentId || !row.experimentVariant) return undefined;
        const experiment = await experiments.find(row.experimentId);
        const variant = experiment?.variants.find((v) => v.name === row.experimentVariant);
        return variant ? assignedVariantOf(row.experimentId, variant) : undefined;
      },
      onReconciled: (action) => metrics.reconciledQueries.inc({ action }),
      logger,
      now: Date.now,
      random: Math.random,
    },
    config.reconcile,
  );

  // Queue depth for the backlog alert, read when Prometheus scrapes.
  const queueDepth = createQueueDepthGauge([answerQueue, indexQueue.queue], metrics.queueJobs);
  const workers: Worker[] = [];
  const bullOptions = {
    connection: redis,
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

  // What this process's flag snapshot holds now: a runtime override shows here within FLAGS_REFRESH_MS.
  health.get('/flags', (c) =>
    c.json({
      version: flags.version(),
      data: flags.all().map((f) => ({ name: f.name, source: f.source, rule: f.rule })),
    }),
  );

  return {
    health,
    modelInfo,
    flags,
    canaryGuard,
    async start() {
      await answerQueue.setGlobalConcurrency(config.worker.globalConcurrency);
      const answers = new Worker(QUEUE_NAMES.answer, processor.processAnswerJob, {
        ...bullOptions,
        prefix: keys.bullPrefix(QUEUE_NAMES.answer),
        concurrency: config.worker.concurrency,
        // Per-minute completed/failed counts (an HINCRBY in BullMQ's finish script): the API's
        // backlog gate reads the running total as the fleet's drain rate.
        metrics: { maxDataPoints: MetricsTime.ONE_HOUR },
      });
      answers.on('failed', (job, error) => failAbandonedJob(processor, logger, job, error));
      // A job whose lock could not be renewed now belongs to whichever worker takes it next: stop
      // its LLM call (the stream guard already refuses this run's appends).
      answers.on('lockRenewalFailed', (jobIds) => {
        for (const id of jobIds) answers.cancelJob(id, 'lock lost');
      });
      const index = new Worker(QUEUE_NAMES.indexNotes, indexer.processIndexJob, {
        ...bullOptions,
        prefix: keys.bullPrefix(QUEUE_NAMES.indexNotes),
        concurrency: config.worker.indexConcurrency,
      });
      for (const worker of [answers, index]) {
        worker.on('error', (err) => logger.error({ err }, 'worker error'));
        workers.push(worker);
        void worker.run();
      }
      sweep.start();
      reconciler.start();
      canaryGuard.start();
    },
    /** Stops taking jobs, waits for active ones (the caller bounds the wait), then closes clients. */
    async close() {
      sweep.stop();
      reconciler.stop();
      canaryGuard.stop();
      flags.close();
      await Promise.all(workers.map((w) => w.close()));
      models.close();
      for (const variant of variantChains.values()) variant.close();
      await Promise.allSettled([answerQueue.close(), answerProducer.close(), indexQueue.close()]);
      await model.close();
      redis.disconnect();
      eventsRedis.disconnect();
      await db.close();
    },
  };
}
