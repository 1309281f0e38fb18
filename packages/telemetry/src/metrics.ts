import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PROMLINT_REJECTED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];
const tokenBuckets = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

/** The final status of a question (`assistant_queries_total`). */
export type QueryStatus = 'succeeded' | 'failed' | 'refused';

/**
 * Which cache answered a question (`assistant_query_duration_seconds`): `exact` (the answer cache,
 * at submit in the API or as the worker's fallback), `semantic`, or `miss` (generated, extractive
 * or no_context).
 */
export type CacheTierLabel = 'exact' | 'semantic' | 'miss';

/**
 * One Prometheus registry per process with the process metrics and the service's own.
 * Later features declare their metrics here so every process exposes one coherent set.
 * Never label by user id: per-user figures come from Postgres. Every label has a bounded set of
 * values: models outside the configured table are folded into `other` by the caller
 * ({@link createLabelFolder}).
 *
 * The product plan's metrics are here under the plan's names; the plan's rates
 * (`assistant_cache_hit_rate`, `assistant_no_context_rate`) and its un-suffixed counters
 * (`assistant_api_cost_usd`, `assistant_generation_failures`, `assistant_rate_limit_hits`) are
 * Prometheus recording rules over the counters below (infra/prometheus/rules.yml): a counter's
 * exposed name ends in `_total`, as Prometheus and `promtool check metrics` require.
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // prom-client names these three gauges with `_total`, the suffix Prometheus reserves for
  // counters (`promtool check metrics` rejects them); nothing here reads them.
  for (const name of PROMLINT_REJECTED_DEFAULTS) registry.removeSingleMetric(name);
  const metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'assistant_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern, method and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    queries: new Counter({
      name: 'assistant_queries_total',
      help: 'Questions by final status: succeeded (answered, cache hits included), failed (ended with an error), refused (429 or 503 at submit, nothing accepted).',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    queriesSubmitted: new Counter({
      name: 'assistant_queries_submitted_total',
      help: 'Questions accepted by the API, by outcome (enqueued, joined, replayed, cached).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    rateLimitHits: new Counter({
      name: 'assistant_rate_limit_hits_total',
      help: 'Questions refused at admission (429), by the limit that refused (user_minute, user_hour, user_day, global_hour, in_flight, user_budget, global_budget).',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    overloadRefusals: new Counter({
      name: 'assistant_overload_refusals_total',
      help: 'Requests an API process refused with 503 overloaded, by reason (in_progress, event_loop_delay, backlog, backlog_wait).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    reconciledQueries: new Counter({
      name: 'assistant_reconciled_queries_total',
      help: 'Open queries a worker found without a live job: requeued, or expired (ended with timeout).',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'assistant_job_duration_seconds',
      help: 'Worker job duration by queue and outcome (answer-query: succeeded, retried, failed, superseded; index-notes: indexed, skipped).',
      labelNames: ['queue', 'outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: 'assistant_pipeline_step_duration_seconds',
      help: 'Duration of each answer pipeline step.',
      labelNames: ['step'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    queryDuration: new Histogram({
      name: 'assistant_query_duration_seconds',
      help: 'Time to answer a question, by outcome (succeeded, failed) and the cache that answered (exact, semantic, miss): enqueue to terminal event in the worker; the submit request for an exact-cache hit the API served.',
      labelNames: ['outcome', 'cache'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    concurrentQueries: new Gauge({
      name: 'assistant_concurrent_queries',
      help: 'Questions this worker process is answering now (pipeline runs in progress).',
      registers: [registry],
    }),
    queryTokens: new Counter({
      name: 'assistant_query_tokens_total',
      help: 'LLM tokens spent on answers, by provider, model and direction (prompt, completion).',
      labelNames: ['provider', 'model', 'direction'] as const,
      registers: [registry],
    }),
    answerTokens: new Histogram({
      name: 'assistant_answer_tokens',
      help: 'Tokens per generated answer (cache hits and no_context answers excluded), by direction (prompt, completion).',
      labelNames: ['direction'] as const,
      buckets: tokenBuckets,
      registers: [registry],
    }),
    truncations: new Counter({
      name: 'assistant_truncations_total',
      help: 'Truncations, by kind: answer (the model hit the token limit), context (retrieved chunks left out of the prompt to fit its budget).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'assistant_errors_total',
      help: 'Errors by type (the stable error code): questions that ended failed, and API 5xx responses.',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    generationFailures: new Counter({
      name: 'assistant_generation_failures_total',
      help: 'LLM calls that failed (the chain then fell back), by provider, model and reason (the error kind).',
      labelNames: ['provider', 'model', 'reason'] as const,
      registers: [registry],
    }),
    cacheEvents: new Counter({
      name: 'assistant_cache_events_total',
      help: 'Cache lookups and stores by tier (exact, semantic, embedding, context) and outcome (hit, miss, store).',
      labelNames: ['tier', 'outcome'] as const,
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'assistant_llm_breaker_state',
      help: 'Circuit breaker state per model: 0 closed, 1 half-open, 2 open.',
      labelNames: ['breaker'] as const,
      registers: [registry],
    }),
    breakerEvents: new Counter({
      name: 'assistant_llm_breaker_events_total',
      help: 'Circuit breaker call outcomes per model (success, failure, timeout, ignored, rate_limited, rejected, skipped).',
      labelNames: ['breaker', 'event'] as const,
      registers: [registry],
    }),
    answersBySource: new Counter({
      name: 'assistant_answers_total',
      help: 'Answers by where they came from (primary, secondary, cache, extractive, semantic_cache, no_context).',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    queryRoutes: new Counter({
      name: 'assistant_query_routes_total',
      help: 'Routed questions by class (simple, complex, no_context) and the model routing chose (a configured model, none for no_context, other for any other).',
      labelNames: ['class', 'model'] as const,
      registers: [registry],
    }),
    qualityScore: new Histogram({
      name: 'assistant_answer_quality_score',
      help: 'Online quality score (0..1) of generated answers, by where the answer came from (primary, secondary, cache, extractive) and whether it was escalated.',
      labelNames: ['source', 'escalated'] as const,
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers: [registry],
    }),
    escalations: new Counter({
      name: 'assistant_answer_escalations_total',
      help: 'Low-scoring answers regenerated by the stronger model (escalated), or not for want of budget (budget_refused).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    apiCostUsd: new Counter({
      name: 'assistant_api_cost_usd_total',
      help: 'LLM spend in US dollars, by model (the ledger in Postgres is the truth per user and day).',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    sseConnections: new Gauge({
      name: 'assistant_sse_connections',
      help: 'Open server-sent event streams.',
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: 'assistant_queue_jobs',
      help: 'Jobs per queue and state (waiting, prioritized, delayed, active, failed), read from BullMQ at scrape time.',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
  };
  // Known label values start at 0, so `increase()` sees the first refusal of each code.
  for (const limit of [
    'user_minute',
    'user_hour',
    'user_day',
    'global_hour',
    'in_flight',
    'user_budget',
    'global_budget',
  ])
    metrics.rateLimitHits.inc({ limit }, 0);
  for (const status of ['succeeded', 'failed', 'refused'] satisfies QueryStatus[])
    metrics.queries.inc({ status }, 0);
  for (const kind of ['answer', 'context']) metrics.truncations.inc({ kind }, 0);
  for (const reason of ['in_progress', 'event_loop_delay', 'backlog'])
    metrics.overloadRefusals.inc({ reason }, 0);
  for (const outcome of ['escalated', 'budget_refused']) metrics.escalations.inc({ outcome }, 0);
  return metrics;
}

/** The metrics of one process. */
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Feature flags, the canary guard, feedback and experiments. Registered on a process's registry
 * by its composition root: `createRolloutMetrics(metrics.registry)`.
 */
export function createRolloutMetrics(registry: Registry) {
  return {
    flagRollout: new Gauge({
      name: 'assistant_flag_rollout_percent',
      help: 'Rollout of each feature flag as this process sees it (0 when disabled; allow lists aside).',
      labelNames: ['flag'] as const,
      registers: [registry],
    }),
    canaryBreach: new Gauge({
      name: 'assistant_canary_breach',
      help: 'Whether a rollback trigger holds now for a flag in partial rollout (1) or not (0).',
      labelNames: ['flag', 'trigger'] as const,
      registers: [registry],
    }),
    canaryRollbacks: new Counter({
      name: 'assistant_canary_rollbacks_total',
      help: 'Flags the canary guard rolled back to 0%, by flag and the trigger that held.',
      labelNames: ['flag', 'trigger'] as const,
      registers: [registry],
    }),
    feedback: new Counter({
      name: 'assistant_feedback_total',
      help: 'Feedback given on answers, by rating (an edit counts the new rating).',
      labelNames: ['rating'] as const,
      registers: [registry],
    }),
    experimentAssignments: new Counter({
      name: 'assistant_experiment_assignments_total',
      help: 'Questions submitted under an experiment variant (or a promoted default).',
      labelNames: ['experiment', 'variant'] as const,
      registers: [registry],
    }),
  };
}

/** The rollout metrics of one process. */
export type RolloutMetrics = ReturnType<typeof createRolloutMetrics>;

/**
 * Folds a label value outside a known set into `other`, so a label's values stay bounded (a model
 * name from a provider's reply or an experiment must not grow the series count).
 *
 * @example
 * const model = createLabelFolder(['gpt-4o-mini', 'extractive']);
 * model('gpt-4o-mini'); // 'gpt-4o-mini'
 * model('whatever-came-back'); // 'other'
 */
export function createLabelFolder(known: Iterable<string>): (value: string) => string {
  const set = new Set(known);
  return (value) => (set.has(value) ? value : 'other');
}

/**
 * Figures read from the ledger in Postgres at scrape time (cached for `maxAgeMs`): the number of
 * users whose spend today reached their daily budget. The same figure from every process that
 * registers it, so alerts take `max`. Registered by the worker's composition root.
 */
export function registerLedgerGauges(
  registry: Registry,
  read: { usersOverDailyBudget: () => Promise<number> },
  options: { maxAgeMs: number; now?: () => number },
) {
  const now = options.now ?? Date.now;
  let last: { at: number; value: number } | undefined;
  return new Gauge({
    name: 'assistant_users_over_daily_budget',
    help: "Users whose LLM spend today (UTC) reached their daily budget (the free tier's is $5), from the ledger.",
    registers: [registry],
    async collect() {
      if (!last || now() - last.at >= options.maxAgeMs) {
        // A failed read keeps the last figure (a scrape must not fail on a Postgres blip).
        const value = await read.usersOverDailyBudget().catch(() => last?.value);
        if (value !== undefined) last = { at: now(), value };
      }
      if (last) this.set(last.value);
    },
  });
}
