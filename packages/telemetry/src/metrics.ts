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
  return {
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
      help: 'Questions accepted by the API, by outcome (enqueued, duplicate).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'assistant_job_duration_seconds',
      help: 'Worker job duration by queue and outcome.',
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
      help: 'Time from enqueue to the terminal event, by outcome.',
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
    sseConnections: new Gauge({
      name: 'assistant_sse_connections',
      help: 'Open server-sent event streams.',
      registers: [registry],
    }),
  };
}

/** The metrics of one process. */
export type Metrics = ReturnType<typeof createMetrics>;
