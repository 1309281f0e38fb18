import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * One Prometheus registry per process with the process metrics and the service's own.
 * Later features declare their metrics here so every process exposes one coherent set.
 * Never label by user id: per-user figures come from Postgres.
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'assistant_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern, method and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    queriesSubmitted: new Counter({
      name: 'assistant_queries_submitted_total',
      help: 'Questions accepted by the API, by outcome (enqueued, joined, replayed, cached).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    admissionRefusals: new Counter({
      name: 'assistant_admission_refusals_total',
      help: 'Questions refused at admission, by code (rate_limited, too_many_in_flight, budget_exceeded).',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    overloadRefusals: new Counter({
      name: 'assistant_overload_refusals_total',
      help: 'Requests an API process refused with 503 overloaded, by reason (in_progress, event_loop_delay, backlog).',
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
      help: 'Time from enqueue to the terminal event, by outcome (succeeded, failed).',
      labelNames: ['outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    llmTokens: new Counter({
      name: 'assistant_llm_tokens_total',
      help: 'LLM tokens by provider, model and direction (prompt, completion).',
      labelNames: ['provider', 'model', 'direction'] as const,
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
      help: 'Answers by where they came from (primary, secondary, cache, extractive, semantic_cache, no_context) and whether truncated.',
      labelNames: ['source', 'truncated'] as const,
      registers: [registry],
    }),
    queryRoutes: new Counter({
      name: 'assistant_query_routes_total',
      help: 'Routed questions by class (simple, complex, no_context) and the model routing chose (a configured model, none for no_context, other for any other).',
      labelNames: ['class', 'model'] as const,
      registers: [registry],
    }),
    costMicros: new Counter({
      name: 'assistant_llm_cost_micro_usd_total',
      help: 'LLM spend in micro-dollars by model.',
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
  for (const code of ['rate_limited', 'too_many_in_flight', 'budget_exceeded'])
    metrics.admissionRefusals.inc({ code }, 0);
  for (const reason of ['in_progress', 'event_loop_delay', 'backlog'])
    metrics.overloadRefusals.inc({ reason }, 0);
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
