import { randomUUID } from 'node:crypto';
import { createAnswerCache, createCacheEpochs, createSingleFlight } from '@assistant/cache';
import { answerSettings, type Config, limitsFor, promptTemplate } from '@assistant/config';
import {
  createCostsRepo,
  createDb,
  createExperimentsRepo,
  createFeedbackRepo,
  createNotesRepo,
  createQueriesRepo,
  createUsersRepo,
  ledgerEntryOf,
  listenToGenerations,
} from '@assistant/db';
import { createCanaryStats, createFlagSnapshot, createFlagStore } from '@assistant/flags';
import { createAdmission, createBudget } from '@assistant/limits';
import {
  connectRedis,
  createAnswerQueue,
  createEventStream,
  createIndexQueue,
  createKeys,
  createNotesGenerations,
  createServedHits,
  createServedHitsReader,
  parseNotification,
  readBacklog,
} from '@assistant/queue';
import { createRolloutMetrics, type Logger, type Metrics } from '@assistant/telemetry';
import { createAdminSessions } from './admin-session.ts';
import { createApp } from './app.ts';
import { createEventLoopDelay } from './event-loop-delay.ts';
import { createExperimentAssigner } from './experiments/experiment-assigner.ts';
import { createKeyRevocations } from './key-revocations.ts';
import { createServedHitsWriter } from './served-hits-writer.ts';
import { createStreamReader } from './stream-reader.ts';
import { createStreamTokens } from './stream-token.ts';
import { createBacklogGate } from './submission/backlog-gate.ts';
import { createPostgresGenerations } from './submission/postgres-generations.ts';
import { createQuerySubmitter } from './submission/submit-query.ts';

// A served hit's row copy outlives its wait for a writer by far (a writer stores it in well under
// a second unless Postgres is down); the log entry itself never expires.
const SERVED_ROW_TTL_MS = 3_600_000;
// The linger gathers a low rate's hits into one transaction each (a hit alone costs about eight
// statements); the row copy serves `GET /v1/queries/:id` meanwhile.
const SERVED_WRITER_OPTIONS = {
  batchSize: 256,
  blockMs: 1_000,
  claimIdleMs: 30_000,
  retryMs: 1_000,
  lingerMs: 200,
};
// A cached answer is priced at nothing.
const FREE = { inputNanosPerToken: 0, outputNanosPerToken: 0 };

/**
 * Builds every client the API uses, once, from validated config, and the app over them. `main.ts`
 * serves it; tests call it with a config of their own (their Redis prefix and database).
 */
export async function buildApi(config: Config, observability: { logger: Logger; metrics: Metrics }) {
  const { logger, metrics } = observability;
  const keys = createKeys(config.redis.prefix);
  const db = createDb({ url: config.db.url, poolSize: config.db.poolSize });
  // No offline queue: with Redis down, requests fail fast (503) instead of hanging.
  const redis = await connectRedis(config.redis.url, 'command', 'api', logger);
  // The submit path's lookups and scripts, auto-pipelined across concurrent submits.
  const submitRedis = await connectRedis(config.redis.url, 'submit', 'api-submit', logger);
  // A subscribed connection runs no other command, so pub/sub gets its own ('subscriber': no
  // command timeout, which a subscription would outlast): key revocations and the SSE stream
  // reader's append notifications share it (each ignores the other's channels). The
  // revocations close it, last.
  const subscriber = await connectRedis(config.redis.url, 'subscriber', 'api-subscriber', logger);
  const keyRevocations = await createKeyRevocations(redis, subscriber, keys, logger);

  const queue = createAnswerQueue(redis, keys, config.jobs);
  const indexQueue = createIndexQueue(redis, keys, config.jobs);
  // Ledger jobs retry for hours: a Postgres outage delays rows, never loses them.
  const events = createEventStream(redis, keys, config.events);
  // Every SSE stream and long-poll of this process: the append notifications on the subscriber
  // connection, reads on the command connection. No connection per request.
  const eventLoopDelay = createEventLoopDelay();
  const reader = createStreamReader({
    readAfter: (queryId, afterId, count) => events.readAfter(queryId, afterId, count),
    subscriber,
    channelOf: (queryId) => keys.eventsNotify(queryId),
    parseNotification,
    logger,
  });
  const users = createUsersRepo(db.db);
  const notes = createNotesRepo(db.db);
  const queries = createQueriesRepo(db.db);
  const generations = createNotesGenerations(redis, keys, (userId) => notes.generation(userId));
  const admission = createAdmission(submitRedis, keys);
  const epochs = createCacheEpochs(submitRedis, keys, {
    loadGeneration: (userId) => generations.current(userId),
  });
  const onCacheEvent = (tier: string, outcome: string) => metrics.cacheEvents.inc({ tier, outcome });
  const answerCache = createAnswerCache(submitRedis, keys, {}, { onCacheEvent });
  // Postgres's generation of each user, kept by listening to its bumps (one connection of its
  // own): a cache hit then needs no Postgres round trip to prove its notes current.
  const postgresGenerations = createPostgresGenerations({ load: (userId) => notes.generation(userId) });
  const generationListener = listenToGenerations(config.db.url, postgresGenerations.handlers);
  void generationListener.start();
  // Cache hits written behind: the submit path logs them in Redis; this process's writer (one of
  // the log's consumers, on a connection of its own: its reads block) stores them in Postgres.
  const served = createServedHits(submitRedis, keys, { rowTtlMs: SERVED_ROW_TTL_MS });
  const servedRedis = await connectRedis(config.redis.url, 'worker', 'api-served-hits', logger);
  const writerName = `api-${process.pid}-${randomUUID().slice(0, 8)}`;
  const servedWriter = createServedHitsWriter(
    {
      reader: createServedHitsReader(servedRedis, keys, writerName),
      legacy: createServedHitsReader(servedRedis, keys, writerName, 'legacy'),
      queries,
      ledgerOf: (row) => ledgerEntryOf(row, FREE, Date.now()),
      logger,
      now: Date.now,
    },
    SERVED_WRITER_OPTIONS,
  );
  servedWriter.start();
  const limitsOf = (owner: Parameters<typeof limitsFor>[0]) => limitsFor(owner, config.limits.tiers);
  const global = {
    perHour: config.limits.global.perHour,
    dailyBudgetMicros: config.limits.global.dailyBudgetMicros,
  };

  // Feature flags: an in-process copy refreshed in the background (no Redis call per request).
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
  const experiments = createExperimentsRepo(db.db);
  const assigner = createExperimentAssigner(
    { experiments, flags, logger },
    { refreshMs: config.flags.experimentsRefreshMs },
  );
  await assigner.start();

  const app = createApp({
    queries,
    served,
    users,
    findKeyOwner: (key) => users.findKeyOwner(key),
    keyRevocations,
    submit: createQuerySubmitter({
      queries,
      notes,
      queue,
      events,
      admission,
      backlog: createBacklogGate(config.api.backlog, {
        readBacklog: () => readBacklog(queue.queue),
        now: Date.now,
        onRefusal: (reason) => metrics.overloadRefusals.inc({ reason }),
      }),
      epochs,
      answerCache,
      postgresGenerations,
      publishGeneration: (userId, generation) => generations.publish(userId, generation),
      ...(config.api.cacheHitWriteBehind ? { served } : {}),
      singleFlight: createSingleFlight(submitRedis, keys),
      newId: randomUUID,
      now: Date.now,
      settings: answerSettings(config.llm),
      logger,
      global,
      flags,
      assignExperiment: (userId) => {
        const assigned = assigner.assign(userId);
        if (assigned)
          rollout.experimentAssignments.inc({
            experiment: assigned.experiment_id,
            variant: assigned.variant,
          });
        return assigned;
      },
    }),
    limitsOf,
    events,
    notes,
    indexQueue,
    generations,
    epochs,
    costs: createCostsRepo(db.db),
    admission,
    budget: createBudget(redis, keys),
    global,
    reader,
    streamTokens: createStreamTokens({
      secret: config.auth.streamTokenSecret,
      ttlMs: config.auth.streamTokenTtlMs,
      now: Date.now,
    }),
    flags,
    flagStore,
    experiments,
    // An experiment may name only a prompt the template registry holds.
    knownPrompt: (ref) => promptTemplate(ref) !== undefined,
    refreshAssignments: () => assigner.refresh(),
    feedback: createFeedbackRepo(db.db),
    onFeedback: ({ userId, rating, previous }) => {
      if (rating === previous) return;
      rollout.feedback.inc({ rating });
      // Counted once per query turning down, for the canary guard's thumbs-down trigger.
      if (rating === 'down') {
        void canaryStats
          .recordThumbsDown({ userId, at: Date.now() })
          .catch((err: unknown) => logger.warn({ err }, 'canary feedback count failed'));
      }
    },
    boardQueues: [queue.queue, indexQueue.queue],
    adminSessions: createAdminSessions({
      adminToken: config.auth.adminToken,
      ttlMs: config.auth.adminSessionTtlMs,
      now: Date.now,
    }),
    eventLoopDelayMs: () => eventLoopDelay.ms(),
    // The job (kept for the queue's retention) holds the trace context its query was submitted under.
    traceOf: async (queryId) => (await queue.queue.getJob(queryId))?.data?.trace,
    checks: { redis: () => redis.ping(), postgres: () => db.ping() },
    metrics,
    logger,
    newId: randomUUID,
    now: Date.now,
    options: {
      maxWaitSeconds: config.api.maxWaitSeconds,
      heartbeatMs: config.events.heartbeatMs,
      adminToken: config.auth.adminToken,
      keyCacheTtlMs: config.auth.keyCacheTtlMs,
      overload: config.api.overload,
    },
  });

  return {
    app,
    parts: {
      redis,
      db,
      keys,
      queue,
      indexQueue,
      events,
      generations,
      epochs,
      admission,
      flags,
      flagStore,
      assigner,
    },
    /** Ends open SSE streams (with a reconnect hint) and long-polls; call before closing the server. */
    beginShutdown() {
      reader.close();
    },
    async close() {
      await Promise.allSettled([queue.close(), indexQueue.close(), servedWriter.stop()]);
      servedRedis.disconnect();
      reader.close();
      flags.close();
      assigner.close();
      eventLoopDelay.close();
      keyRevocations.close();
      redis.disconnect();
      submitRedis.disconnect();
      await Promise.allSettled([generationListener.close(), db.close()]);
    },
  };
}

/** What {@link buildApi} returns. */
export type Api = Awaited<ReturnType<typeof buildApi>>;
