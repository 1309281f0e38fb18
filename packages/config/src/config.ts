import { createHmac } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { FLAG_NAMES, type FlagName } from '@assistant/contracts';
import { z } from 'zod';
import { DEFAULT_PROMPT } from './prompt-templates.ts';
import { mergeTiers, TiersOverride } from './tiers.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const usdPerToken = z.coerce.number().min(0).max(1);

/** A variable holding JSON: parsed, then validated by the schema it is piped into. */
const jsonText = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be valid JSON' });
    return z.NEVER;
  }
});

/** A process count: a whole number ≥ 1, or `auto` for one per core. */
const processCount = z
  .string()
  .regex(/^(auto|[1-9][0-9]*)$/, 'must be a whole number ≥ 1 or auto')
  .transform((value) => (value === 'auto' ? availableParallelism() : Number(value)));

/**
 * The environment the service reads, one variable per line. `.env.example` mirrors it.
 * Only this module reads `process.env`; apps call {@link loadConfig} once in `main.ts`.
 */
export const EnvSchema = z
  .object({
    // Deployment flavour; `test` only lowers some defaults for speed.
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    // HTTP port of the API.
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    // HTTP port of a worker's /healthz, /readyz and /metrics (0 = pick a free port).
    // --- overload guard (apps/api/src/middleware/overload.ts) ---
    // Question submits and note writes in progress in one API process above which new ones are
    // refused at once with 503 `overloaded` and Retry-After (polls, SSE and health are not gated).
    // Trade-off measured on 2 cores: at 1024, a 500 q/s spike let 1024 submits in at once and
    // every one of them ran past the 6 s submit deadline (503 dependency_unavailable, a slow
    // refusal); at 256, 1000 users asking at once saw 0 or 316 refused (fast 503 overloaded)
    // depending on how quickly they connected.
    API_MAX_IN_PROGRESS: z.coerce.number().int().min(1).default(256),
    // Cache hits the API serves are written behind (apps/api/src/served-hits-writer.ts): the reply
    // waits for one Redis script (the hit's row copy and its entry in the served-hits log), not
    // for Postgres; every API process stores the log in batches. Off: each hit's row and ledger
    // entry are stored in Postgres before the reply (a hit with an Idempotency-Key always is).
    CACHE_HIT_WRITE_BEHIND: bool.default(true),
    // Recent event-loop delay (p99 over about a second, ms) of an API process above which those
    // requests are refused the same way; the gate reopens below half of it. High by default: on a
    // shared box a descheduled process sees late timers too, and the in-progress cap is the main
    // guard; this one catches a loop that is truly stuck.
    API_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(1).default(1000),
    // Answer jobs waiting to start across the fleet at which new questions are refused the same
    // way whatever the drain rate (apps/api/src/submission/backlog-gate.ts); 0 = no backlog gate
    // at all. A hard cap behind QUEUE_MAX_WAIT_MS, which does the sizing: 2000 is about a minute
    // at the ~35 answers/s of one 2-core host, and lets 1000 users ask at once.
    QUEUE_MAX_WAITING: z.coerce.number().int().min(0).default(2000),
    // Longest estimated wait for a worker (ms: the backlog over the rate the fleet finishes jobs
    // while saturated, measured from the answer queue's BullMQ metrics) at which a new question
    // is still accepted; beyond it, 503 `overloaded` with Retry-After the time to drain back to
    // it. 0 = count cap only. 15 s is the plan's p99 rollback trigger: accepting a longer wait
    // would trip it by itself. A fresh fleet's first burst (no rate measured yet) meets only the
    // count cap, so 1000 users asking at once on a cold stack are all taken.
    QUEUE_MAX_WAIT_MS: z.coerce.number().int().min(0).default(15_000),
    // How old an API process's copy of that count may get (ms) before it reads it again.
    QUEUE_BACKLOG_REFRESH_MS: z.coerce.number().int().min(10).max(10_000).default(100),
    // Connections the kernel queues for an API process before it accepts them (listen backlog;
    // Linux caps it at net.core.somaxconn, 4096 on current kernels). Node's default of 511
    // resets connections in a spike before the overload guard can answer them.
    HTTP_LISTEN_BACKLOG: z.coerce.number().int().min(1).max(65_535).default(4096),
    // --- end overload guard ---
    WORKER_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
    // Interface both HTTP servers bind to.
    HOST: z.string().min(1).default('0.0.0.0'),
    // Redis connection URL; a database index in the path (redis://host:6379/2) is honoured.
    // redis+cluster://[user:pass@]host:port (rediss+cluster:// for TLS) is a Redis Cluster seeded
    // from that node: the other nodes are discovered, the credentials apply to every node.
    REDIS_URL: z
      .url({ protocol: /^rediss?(\+cluster)?$/ })
      .refine((url) => !/^rediss?\+cluster:/.test(url) || /^\/?0?$/.test(new URL(url).pathname), {
        message: 'a Redis Cluster has only database 0: no database index in a redis+cluster:// URL',
      }),
    // Prefix for every Redis key and BullMQ queue, so several deployments can share a Redis.
    REDIS_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,32}$/)
      .default('as'),
    // Postgres connection URL (postgres://user:pass@host:5432/db).
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
    // Pool size per process.
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
    // Bearer token for /v1/admin/*; at least 16 characters.
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters'),
    // How long an API key lookup is cached in the API process's memory.
    API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).default(30_000),
    // HMAC secret of the signed stream tokens in `events` links (browsers' EventSource sends no
    // header); the same on every API replica. Default: derived from ADMIN_TOKEN.
    STREAM_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    // How long a browser's sign-in to the queue dashboard (/admin/queues) lasts.
    ADMIN_SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(604_800).default(28_800),
    // How long a stream token is accepted; a client past it fetches the query again for a new link.
    STREAM_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
    // Which LLM provider answers: hf (Hugging Face), endpoint (OpenAI-compatible URL), extractive (offline).
    LLM_PROVIDER: z.enum(['hf', 'endpoint', 'extractive']).optional(),
    // Model id sent to the provider (hf: a hub model id; endpoint: whatever the server expects).
    LLM_MODEL: z.string().min(1).optional(),
    // A second model on the same provider, tried when the first fails or its breaker is open.
    LLM_FALLBACK_MODEL: z.string().min(1).optional(),
    // Prices per model as JSON, over the defaults above: {"<model id>": {"input_usd": 1e-7, "output_usd": 3e-7}}.
    LLM_PRICES_JSON: jsonText
      .pipe(z.record(z.string().min(1), z.strictObject({ input_usd: usdPerToken, output_usd: usdPerToken })))
      .optional(),
    // --- routing (issue 13): a question's class picks its model (flag classification_routing) ---
    // Model that answers `simple` questions (a fact from one note), same provider; default
    // LLM_MODEL. Other than LLM_MODEL, it needs its row in LLM_PRICES_JSON (the ledger's price).
    LLM_SIMPLE_MODEL: z.string().min(1).optional(),
    // Model that answers `complex` questions (comparisons, summaries, plans, advice); default
    // LLM_MODEL, and a price row likewise. `no_context` questions call no model at all.
    LLM_COMPLEX_MODEL: z.string().min(1).optional(),
    // A question of at least this many words is complex (set on the dev part of `npm run eval:routing`).
    ROUTING_COMPLEX_MIN_WORDS: z.coerce.number().int().min(1).max(1000).default(18),
    // A question whose retrieved chunks come from at least this many notes is complex; 0 = off
    // (on the eval set's dev part every value tried sent simple questions to the complex model).
    ROUTING_COMPLEX_MIN_NOTES: z.coerce.number().int().min(0).max(50).default(0),
    // The nearest-centroid rule on the question's embedding (centroids trained on the eval set's
    // dev part for the bundled embedding model; off by itself for another model). On a fresh set
    // written after the rules were frozen it caught 19 of 20 complex questions where the rules
    // alone caught 9; it also sends about one simple question in ten to the complex model.
    ROUTING_CENTROIDS: bool.default(true),
    // --- end routing ---
    // Circuit breaker: failures within BREAKER_WINDOW_MS that open it.
    BREAKER_FAILURES: z.coerce.number().int().min(1).default(5),
    // Circuit breaker: the rolling window failures are counted in.
    BREAKER_WINDOW_MS: z.coerce.number().int().min(1000).default(60_000),
    // Circuit breaker: how long it stays open before one trial request.
    BREAKER_OPEN_MS: z.coerce.number().int().min(100).default(30_000),
    // Base URL of an OpenAI-compatible server (TGI, vLLM, llama.cpp, Ollama) for LLM_PROVIDER=endpoint.
    LLM_ENDPOINT_URL: z.url({ protocol: /^https?$/ }).optional(),
    // Hugging Face access token for LLM_PROVIDER=hf (also sent to an endpoint if set).
    HF_TOKEN: z.string().min(1).optional(),
    // Per-call LLM timeout; the HTTP call is aborted when it passes.
    LLM_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    // max_tokens asked of the LLM per answer.
    LLM_MAX_TOKENS: z.coerce.number().int().min(1).max(8192).default(512),
    // Price of one prompt token in USD.
    LLM_PRICE_INPUT_USD: usdPerToken.default(0.0000002),
    // Price of one completion token in USD.
    LLM_PRICE_OUTPUT_USD: usdPerToken.default(0.0000006),
    // Folder of an ONNX sentence-embedding model; default: the cache the setup script fills.
    EMBEDDING_MODEL_DIR: z.string().min(1).optional(),
    // Where the default model cache lives (the setup script's ${XDG_CACHE_HOME:-~/.cache}).
    XDG_CACHE_HOME: z.string().min(1).optional(),
    // Home folder, for the default model cache.
    HOME: z.string().min(1).optional(),
    // Note excerpts put in a prompt, at most this many tokens.
    CONTEXT_MAX_TOKENS: z.coerce.number().int().min(64).default(2000),
    // Note chunks retrieved per question.
    RETRIEVAL_TOP_K: z.coerce.number().int().min(1).max(50).default(5),
    // How chunks are ranked: fused (in-memory BM25 + embeddings, score fusion, answerability
    // decision), or the older dense (embeddings), lexical (Postgres full-text) or hybrid (both, RRF).
    RETRIEVAL_RANKING: z.enum(['fused', 'dense', 'lexical', 'hybrid']).default('fused'),
    // "gate": when the notes do not cover the question (fused: the answerability gate, set on the
    // eval set's dev part, docs/retrieval-quality.md; any ranking: nothing retrieved) the answer is
    // "no_context" with no sources and no model call. "off": the model answers with what was found.
    RETRIEVAL_ANSWERABILITY: z.enum(['gate', 'off']).default('gate'),
    // Least cosine similarity for a chunk to count as relevant (below: "no relevant note").
    RETRIEVAL_MIN_SCORE: z.coerce.number().min(-1).max(1).default(0.3),
    // Least cosine for a chunk that matched lexically (an exact rare word is evidence too).
    RETRIEVAL_LEXICAL_MIN_SCORE: z.coerce.number().min(-1).max(1).default(0.25),
    // Weight of the lexical ranking against the dense one in reciprocal-rank fusion.
    RETRIEVAL_LEXICAL_WEIGHT: z.coerce.number().min(0).max(10).default(0.5),
    // Reciprocal-rank-fusion constant k (score = weight / (k + rank)).
    RETRIEVAL_RRF_K: z.coerce.number().int().min(1).max(1000).default(10),
    // Memory for the per-user in-memory vector matrices of one worker, in MiB.
    RETRIEVAL_CACHE_MB: z.coerce.number().int().min(1).default(256),
    // Memory for assembled prompt contexts in one worker (in-process LRU), in MiB.
    CONTEXT_CACHE_MB: z.coerce.number().int().min(1).default(100),
    // Longest a streamed token waits to share one stream append with the next ones (ms); the first
    // token of an answer is always sent at once. At an LLM's 30–100 tokens/s, 50 ms groups 2–5
    // tokens per append, per notification, per read and per SSE write, and a reader sees them at
    // most 50 ms late.
    TOKEN_BATCH_MS: z.coerce.number().int().min(0).max(1000).default(50),
    // Tokens that fill a batch: it is sent at once.
    TOKEN_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(16),
    // Seconds an assembled prompt context stays usable in that LRU (the product plan: 1 hour).
    CONTEXT_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).default(3600),
    // --- edges: HTTP server timeouts ---
    // Longest an API request may take to arrive in full (headers and body); a body shorter than
    // its Content-Length is answered 408 then, not held for Node's default 5 minutes. Node times
    // both from when it accepted the connection and checks before it reads what arrived: an
    // event-loop stall longer than a timeout turns requests that arrived whole into 408s (the
    // spike's SSE 408s at 5 s), so both stay well above the stalls a spike can cause.
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
    // Longest the request line and headers may take to arrive (at most HTTP_REQUEST_TIMEOUT_MS).
    HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(20_000),
    // How long an idle keep-alive connection stays open: above the 60 s idle timeout of common load
    // balancers, so the balancer (not the API) closes first and never reuses a closing socket.
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(65_000),
    // --- end edges ---
    // Word pieces each chunk repeats from the previous one.
    CHUNK_OVERLAP_TOKENS: z.coerce.number().int().min(0).max(128).default(32),
    // --- cores: processes per app and jobs per worker process ---
    // Processes of the API / of the worker on this host: a whole number, or `auto` (one per core,
    // os.availableParallelism()). Above 1, a node:cluster primary supervises that many copies
    // sharing the port (packages/telemetry/src/process-pool.ts). Default 1: a container runs one
    // process and scales by replicas, and on a small host the API, the workers, Redis and Postgres
    // share the same cores, so N per app would only oversubscribe them. `npm start` (one host, no
    // orchestrator) sets `auto` for both.
    API_PROCESSES: processCount.default(1),
    WORKER_PROCESSES: processCount.default(1),
    // Scheduling niceness a worker process gives itself at start (0–19; it only ever lowers its
    // priority, so it needs no privilege). Where the API and the workers share cores (one host,
    // `npm start`), a saturated worker then yields the CPU to the API, which keeps admitting,
    // streaming and refusing promptly (a refusal costs about 1 ms of CPU, an answer about 20): in
    // a 500 qps spike on 2 cores, refusals took p50 201 ms / p99 10.2 s at 0 and 28 ms / 2.1 s at
    // 10, at the same throughput. The worker still gets every idle cycle, and where it runs alone
    // in its own cgroup (a container) there is nobody to yield to, so 10 costs nothing there.
    WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    // Jobs one worker process runs at once. A job mostly waits on the LLM stream (I/O), and ONNX
    // embedding is micro-batched across jobs, so one process carries many; per-user fairness is
    // the tiers' maxRunning, the fleet-wide cap QUEUE_GLOBAL_CONCURRENCY.
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
    // Threads one ONNX embedding inference uses. Default 1: under load the other cores are busy
    // with the API, Redis, Postgres and more jobs, and a second thread then spins waiting for a
    // core (measured on 2 cores: 6.5 ms CPU per question text with 1 thread; 8–10 ms with 2 at
    // small batches, and 2 threads only win wall time on an idle machine).
    EMBEDDING_THREADS: z.coerce.number().int().min(1).max(64).default(1),
    // --- end cores ---
    // Jobs running across all workers at once (BullMQ global concurrency).
    QUEUE_GLOBAL_CONCURRENCY: z.coerce.number().int().min(1).default(100),
    // Attempts per answer job before it fails for good.
    JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
    // First retry delay; doubles each attempt (exponential backoff).
    JOB_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),
    // How long finished jobs stay in BullMQ (seconds).
    JOB_RETENTION_SECONDS: z.coerce.number().int().min(1).default(86_400),
    // How long a query's event stream is kept after its last event (seconds).
    EVENTS_TTL_SECONDS: z.coerce.number().int().min(60).default(86_400),
    // Interval of SSE heartbeat comments.
    SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).default(15_000),
    // Longest ?wait= a client may ask of GET /v1/queries/:id (seconds).
    MAX_WAIT_SECONDS: z.coerce.number().int().min(0).max(30).default(30),
    // A job's lock lasts this long; a worker that dies loses its jobs to others after it.
    WORKER_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
    // How often workers look for stalled jobs (locks that expired).
    WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(15_000),
    // Grace period for in-flight work on SIGTERM.
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
    // Per-tier limit overrides as JSON, merged over the defaults: {"free": {"perMinute": 20}}.
    TIERS_JSON: jsonText.pipe(TiersOverride).optional(),
    // Queries admitted per rolling hour across all users.
    GLOBAL_QUERIES_PER_HOUR: z.coerce.number().int().nonnegative().default(1000),
    // LLM spend allowed per UTC day across all users, in USD.
    GLOBAL_DAILY_BUDGET_USD: z.coerce.number().nonnegative().default(100),
    // pino log level.
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // --- tracing (OpenTelemetry; the SDK reads these and every other OTEL_* variable itself) ---
    // Tracing is on when an exporter is named here or an OTLP endpoint is set; with neither, no
    // exporter exists and nothing connects. Comma-separated: otlp, console, zipkin, none.
    OTEL_TRACES_EXPORTER: z
      .string()
      .regex(
        /^\s*(otlp|console|zipkin|none)(\s*,\s*(otlp|console|zipkin|none))*\s*$/,
        'must list otlp, console, zipkin or none',
      )
      .optional(),
    // OTLP collector base URL (spans go to <url>/v1/traces over HTTP); alone it turns tracing on.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    // Full URL for spans only (overrides OTEL_EXPORTER_OTLP_ENDPOINT for traces).
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
    // OTLP wire format; the SDK defaults to http/protobuf.
    OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json', 'grpc']).optional(),
    // `service.name` of the spans (default assistant-api / assistant-worker).
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
    // Which traces are kept; parentbased_always_on (the SDK default) follows the caller's choice.
    OTEL_TRACES_SAMPLER: z
      .enum([
        'always_on',
        'always_off',
        'traceidratio',
        'parentbased_always_on',
        'parentbased_always_off',
        'parentbased_traceidratio',
      ])
      .optional(),
    // The ratio of the *traceidratio samplers (0..1).
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
    // true: no SDK at all, whatever else is set.
    OTEL_SDK_DISABLED: bool.default(false),
    // Run the database migrations at start (the API does it by default; off for replicas if preferred).
    MIGRATE_ON_START: bool.default(true),
    // --- Worker tuning (issue #9: numbers formerly written in the composition roots) ---
    // Chunks each retriever (vector, lexical) returns before fusion picks RETRIEVAL_TOP_K.
    RETRIEVAL_CANDIDATES: z.coerce.number().int().min(1).max(1000).default(30),
    // Word pieces of a note's title repeated at the head of each of its chunks.
    CHUNK_TITLE_TOKENS: z.coerce.number().int().min(0).max(128).default(24),
    // Delay before an answer job retries a user's full run slots.
    RUN_SLOT_RETRY_MS: z.coerce.number().int().min(10).default(500),
    // How long since enqueue an answer job keeps waiting out a Postgres outage before failing.
    DATABASE_OUTAGE_MAX_WAIT_MS: z.coerce.number().int().min(0).default(600_000),
    // Index jobs one worker process runs at once (each embeds a note: CPU-bound).
    INDEX_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    // Notes still pending indexing this long after their write are enqueued again by the sweep.
    PENDING_SWEEP_OLDER_THAN_MS: z.coerce.number().int().min(1000).default(60_000),
    // How often each worker runs the pending-notes sweep.
    PENDING_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).default(60_000),
    // Notes the sweep re-enqueues per run at most.
    PENDING_SWEEP_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
    // How often each worker looks for open queries whose job Redis lost (jittered ±50%).
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
    // An open query younger than this is left to its submit and its job.
    RECONCILE_OLDER_THAN_MS: z.coerce.number().int().min(0).default(60_000),
    // No question stays open longer: past this it ends with a `timeout` error.
    QUERY_MAX_AGE_MS: z.coerce.number().int().min(1000).default(900_000),
    // Open queries one reconciliation pass looks at.
    RECONCILE_BATCH: z.coerce.number().int().min(1).max(10_000).default(200),
    // --- end worker tuning ---
    // --- feature flags, canary guard, experiments (packages/flags) ---
    // Flags that are off unless overridden at runtime (comma-separated names); every other flag
    // defaults to on for everyone. Names: exact_cache, semantic_cache, rate_limits, budgets,
    // breakers, tracing, classification_routing, quality_scoring, escalation, experiments.
    FLAGS_DEFAULT_OFF: z
      .string()
      .default('escalation')
      .transform((text, ctx) => {
        const names = text
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean);
        for (const name of names) {
          if (!(FLAG_NAMES as readonly string[]).includes(name)) {
            ctx.addIssue({ code: 'custom', message: `unknown flag ${name}` });
          }
        }
        return names as FlagName[];
      }),
    // How often each process checks Redis for flag changes (ms): an override reaches every
    // process within about this long. A request never waits on Redis for a flag.
    FLAGS_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    // Canary guard: a flag in partial rollout whose cohort's error rate exceeds this (and the
    // rest's) over CANARY_WINDOW_MS is rolled back to 0%.
    CANARY_ERROR_RATE: z.coerce.number().min(0).max(1).default(0.1),
    // … or whose cohort's p99 time to answer exceeds this many seconds (and the rest's).
    CANARY_P99_SECONDS: z.coerce.number().positive().default(15),
    // … or whose cohort gave more thumbs-down than this in the last hour (at a higher rate than the rest).
    CANARY_THUMBS_DOWN_PER_HOUR: z.coerce.number().int().min(0).default(5),
    // Window the error rate and p99 are measured over (ms).
    CANARY_WINDOW_MS: z.coerce.number().int().min(60_000).max(3_600_000).default(300_000),
    // How long a trigger must hold, checked on every pass, before the rollback (ms; 0 = at once).
    CANARY_HOLD_MS: z.coerce.number().int().min(0).default(120_000),
    // Finished questions a cohort needs in the window before its error rate or p99 is judged.
    CANARY_MIN_QUERIES: z.coerce.number().int().min(1).default(20),
    // How often each worker runs the guard (ms).
    CANARY_INTERVAL_MS: z.coerce.number().int().min(100).default(15_000),
    // How often each API process re-reads the running experiments from Postgres (ms).
    EXPERIMENTS_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
    // --- answer quality scoring and escalation (flags quality_scoring, escalation) ---
    // With the escalation flag on, an answer scoring below this (0..1) is answered again, once, by
    // ESCALATION_MODEL (set on the dev split of `npm run eval:quality`).
    QUALITY_ESCALATION_THRESHOLD: z.coerce.number().min(0).max(1).default(0.5),
    // Answer sentences per answer whose support the embedding model also judges (one inference,
    // about 3 ms of CPU per sentence); 0 scores by words alone, as well on `npm run eval:quality`.
    QUALITY_EMBEDDED_SENTENCES: z.coerce.number().int().min(0).max(20).default(0),
    // The stronger model a low-scoring answer is escalated to; default: LLM_MODEL. An answer
    // already from this model is never escalated.
    ESCALATION_MODEL: z.string().min(1).optional(),
  })
  .superRefine((env, ctx) => {
    const provider = resolveProvider(env);
    if (provider === 'hf' && !env.HF_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['HF_TOKEN'], message: 'is required when LLM_PROVIDER=hf' });
    }
    if (provider === 'endpoint' && !env.LLM_ENDPOINT_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['LLM_ENDPOINT_URL'],
        message: 'is required when LLM_PROVIDER=endpoint',
      });
    }
    // A routed model charged at the default price would make the ledger lie about what routing saves.
    if (provider !== 'extractive') {
      const model = env.LLM_MODEL ?? defaultModels[provider];
      for (const name of ['LLM_SIMPLE_MODEL', 'LLM_COMPLEX_MODEL'] as const) {
        const routed = env[name];
        if (routed && routed !== model && !env.LLM_PRICES_JSON?.[routed]) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `model ${routed} needs its price in LLM_PRICES_JSON`,
          });
        }
      }
    }
  });

type Env = z.infer<typeof EnvSchema>;

function resolveProvider(env: Pick<Env, 'LLM_PROVIDER' | 'LLM_ENDPOINT_URL' | 'HF_TOKEN'>) {
  if (env.LLM_PROVIDER) return env.LLM_PROVIDER;
  if (env.LLM_ENDPOINT_URL) return 'endpoint';
  if (env.HF_TOKEN) return 'hf';
  return 'extractive';
}

const defaultModels = {
  hf: 'meta-llama/Llama-3.1-8B-Instruct',
  endpoint: 'default',
  extractive: 'extractive',
};

/**
 * Whether anything asks for traces: an exporter other than `none`, or an OTLP endpoint with the
 * exporter left unset (the SDK's default is then otlp). Nothing set means no exporter at all,
 * rather than the SDK's default of an OTLP exporter to localhost:4318.
 */
function tracingEnabled(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.length > 0) return exporters[0] !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Converts a USD-per-token price to integer nano-dollars, so cost sums stay exact. */
function toNanos(usd: number): number {
  return Math.round(usd * 1e9);
}

function shape(env: Env) {
  const provider = resolveProvider(env);
  const llmModel = provider === 'extractive' ? 'extractive' : (env.LLM_MODEL ?? defaultModels[provider]);
  return {
    env: env.NODE_ENV,
    api: {
      processes: env.API_PROCESSES,
      port: env.PORT,
      host: env.HOST,
      maxWaitSeconds: env.MAX_WAIT_SECONDS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: Math.min(env.HTTP_HEADERS_TIMEOUT_MS, env.HTTP_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      listenBacklog: env.HTTP_LISTEN_BACKLOG,
      cacheHitWriteBehind: env.CACHE_HIT_WRITE_BEHIND,
      overload: {
        maxInProgress: env.API_MAX_IN_PROGRESS,
        maxEventLoopDelayMs: env.API_MAX_EVENT_LOOP_DELAY_MS,
      },
      backlog: {
        maxWaiting: env.QUEUE_MAX_WAITING,
        maxWaitMs: env.QUEUE_MAX_WAIT_MS,
        refreshMs: env.QUEUE_BACKLOG_REFRESH_MS,
      },
    },
    worker: {
      processes: env.WORKER_PROCESSES,
      port: env.WORKER_PORT,
      host: env.HOST,
      concurrency: env.WORKER_CONCURRENCY,
      nice: env.WORKER_NICE,
      embeddingThreads: env.EMBEDDING_THREADS,
      globalConcurrency: env.QUEUE_GLOBAL_CONCURRENCY,
      lockMs: env.WORKER_LOCK_MS,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
      runSlotRetryMs: env.RUN_SLOT_RETRY_MS,
      databaseOutageMaxWaitMs: env.DATABASE_OUTAGE_MAX_WAIT_MS,
      indexConcurrency: env.INDEX_WORKER_CONCURRENCY,
    },
    redis: { url: env.REDIS_URL, prefix: env.REDIS_PREFIX },
    db: { url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE, migrateOnStart: env.MIGRATE_ON_START },
    auth: {
      adminToken: env.ADMIN_TOKEN,
      keyCacheTtlMs: env.API_KEY_CACHE_TTL_MS,
      // Derived rather than a second required secret: replicas share ADMIN_TOKEN already, and a
      // leaked stream token cannot reveal it (HMAC). Set STREAM_TOKEN_SECRET to rotate separately.
      streamTokenSecret:
        env.STREAM_TOKEN_SECRET ??
        createHmac('sha256', env.ADMIN_TOKEN).update('stream-token-secret').digest('hex'),
      streamTokenTtlMs: env.STREAM_TOKEN_TTL_SECONDS * 1000,
      adminSessionTtlMs: env.ADMIN_SESSION_TTL_SECONDS * 1000,
    },
    llm: {
      provider,
      model: llmModel,
      endpointUrl: env.LLM_ENDPOINT_URL,
      hfToken: env.HF_TOKEN,
      fallbackModel: provider === 'extractive' ? undefined : env.LLM_FALLBACK_MODEL,
      /** The model per question class and the classifier's thresholds (the offline answerer: itself for all). */
      routing: {
        models: {
          simple: provider === 'extractive' ? llmModel : (env.LLM_SIMPLE_MODEL ?? llmModel),
          complex: provider === 'extractive' ? llmModel : (env.LLM_COMPLEX_MODEL ?? llmModel),
        },
        complexMinWords: env.ROUTING_COMPLEX_MIN_WORDS,
        complexMinNotes: env.ROUTING_COMPLEX_MIN_NOTES,
        centroids: env.ROUTING_CENTROIDS,
      },
      timeoutMs: env.LLM_TIMEOUT_MS,
      maxTokens: env.LLM_MAX_TOKENS,
      breaker: {
        failures: env.BREAKER_FAILURES,
        windowMs: env.BREAKER_WINDOW_MS,
        openMs: env.BREAKER_OPEN_MS,
      },
      /**
       * Every model name the configuration knows (the chain's, the price table's and the offline
       * answerer): metric labels fold any other name into `other`.
       */
      knownModels: [
        ...new Set([
          llmModel,
          ...(provider !== 'extractive'
            ? [
                env.LLM_FALLBACK_MODEL,
                env.LLM_SIMPLE_MODEL,
                env.LLM_COMPLEX_MODEL,
                env.ESCALATION_MODEL,
              ].filter((model): model is string => model !== undefined)
            : []),
          ...Object.keys(env.LLM_PRICES_JSON ?? {}),
          'extractive',
        ]),
      ],
      /** Price of a model in integer nano-dollars per token: its row in LLM_PRICES_JSON, else the default. */
      pricing: (model: string) => {
        const row = env.LLM_PRICES_JSON?.[model];
        return {
          inputNanosPerToken: toNanos(row?.input_usd ?? env.LLM_PRICE_INPUT_USD),
          outputNanosPerToken: toNanos(row?.output_usd ?? env.LLM_PRICE_OUTPUT_USD),
        };
      },
    },
    embeddings: {
      EMBEDDING_MODEL_DIR: env.EMBEDDING_MODEL_DIR,
      XDG_CACHE_HOME: env.XDG_CACHE_HOME,
      HOME: env.HOME,
    },
    retrieval: {
      topK: env.RETRIEVAL_TOP_K,
      maxContextTokens: env.CONTEXT_MAX_TOKENS,
      ranking: env.RETRIEVAL_RANKING,
      answerability: env.RETRIEVAL_ANSWERABILITY,
      minScore: env.RETRIEVAL_MIN_SCORE,
      lexicalMinScore: env.RETRIEVAL_LEXICAL_MIN_SCORE,
      lexicalWeight: env.RETRIEVAL_LEXICAL_WEIGHT,
      rrfK: env.RETRIEVAL_RRF_K,
      cacheBytes: env.RETRIEVAL_CACHE_MB * 1024 * 1024,
      contextCacheBytes: env.CONTEXT_CACHE_MB * 1024 * 1024,
      contextCacheTtlMs: env.CONTEXT_CACHE_TTL_SECONDS * 1000,
      tokenBatch: { maxDelayMs: env.TOKEN_BATCH_MS, maxTokens: env.TOKEN_BATCH_MAX },
      overlapTokens: env.CHUNK_OVERLAP_TOKENS,
      titleTokens: env.CHUNK_TITLE_TOKENS,
      candidates: env.RETRIEVAL_CANDIDATES,
    },
    jobs: {
      attempts: env.JOB_ATTEMPTS,
      backoffMs: env.JOB_BACKOFF_MS,
      retentionSeconds: env.JOB_RETENTION_SECONDS,
    },
    pendingSweep: {
      olderThanMs: env.PENDING_SWEEP_OLDER_THAN_MS,
      intervalMs: env.PENDING_SWEEP_INTERVAL_MS,
      batch: env.PENDING_SWEEP_BATCH,
    },
    reconcile: {
      intervalMs: env.RECONCILE_INTERVAL_MS,
      olderThanMs: env.RECONCILE_OLDER_THAN_MS,
      maxAgeMs: env.QUERY_MAX_AGE_MS,
      batch: env.RECONCILE_BATCH,
    },
    flags: {
      defaultOff: env.FLAGS_DEFAULT_OFF,
      refreshMs: env.FLAGS_REFRESH_MS,
      canary: {
        errorRate: env.CANARY_ERROR_RATE,
        p99Ms: env.CANARY_P99_SECONDS * 1000,
        thumbsDownPerHour: env.CANARY_THUMBS_DOWN_PER_HOUR,
        windowMs: env.CANARY_WINDOW_MS,
        holdMs: env.CANARY_HOLD_MS,
        minQueries: env.CANARY_MIN_QUERIES,
        intervalMs: env.CANARY_INTERVAL_MS,
      },
      experimentsRefreshMs: env.EXPERIMENTS_REFRESH_MS,
    },
    quality: {
      escalationThreshold: env.QUALITY_ESCALATION_THRESHOLD,
      embeddedSentences: env.QUALITY_EMBEDDED_SENTENCES,
      // The extractive provider has no model to escalate to.
      escalationModel:
        provider === 'extractive'
          ? undefined
          : (env.ESCALATION_MODEL ?? env.LLM_MODEL ?? defaultModels[provider]),
    },
    events: { ttlSeconds: env.EVENTS_TTL_SECONDS, heartbeatMs: env.SSE_HEARTBEAT_MS },
    shutdown: { graceMs: env.SHUTDOWN_GRACE_MS },
    log: { level: env.LOG_LEVEL },
    tracing: {
      enabled: tracingEnabled(env),
      /** `OTEL_SERVICE_NAME`, if set: each app otherwise names itself. */
      serviceName: env.OTEL_SERVICE_NAME,
    },
    limits: {
      tiers: mergeTiers(env.TIERS_JSON),
      global: {
        perHour: env.GLOBAL_QUERIES_PER_HOUR,
        dailyBudgetMicros: Math.round(env.GLOBAL_DAILY_BUDGET_USD * 1e6),
      },
    },
  } as const;
}

/** The validated configuration every app is built from. */
export type Config = ReturnType<typeof shape>;

/** Thrown by {@link loadConfig}; `problems` names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates an environment and shapes it into per-concern slices. Pure: tests pass a literal.
 * Empty strings count as unset, as in most `.env` files.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError naming each bad variable
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`),
    );
  }
  return shape(parsed.data);
}

/** What an answer depends on besides the question and the notes (the answer-cache settings). */
export type AnswerSettings = {
  provider: string;
  model: string;
  /** The prompt template, `id@version`. */
  prompt: string;
  /**
   * The model per class and the thresholds that pick the class; null where routing picks no
   * model (nothing routed configured, the flag off for the user, or a variant's model).
   */
  routing: {
    simple: string;
    complex: string;
    complexMinWords: number;
    complexMinNotes: number;
    centroids: boolean;
  } | null;
};

/**
 * What an answer depends on besides the question and the notes: the API (cache lookups) and the
 * worker (cache writes) must agree on it, so it is derived here, once.
 */
export function answerSettings(llm: Config['llm']): AnswerSettings {
  const { models, complexMinWords, complexMinNotes, centroids } = llm.routing;
  const routes = models.simple !== llm.model || models.complex !== llm.model;
  return {
    provider: llm.provider,
    model: llm.model,
    prompt: DEFAULT_PROMPT,
    routing: routes ? { ...models, complexMinWords, complexMinNotes, centroids } : null,
  };
}

/**
 * The answer settings of one question: an experiment variant's model and prompt replace the
 * defaults, so its answers are cached apart; the routing table counts only where it picks the
 * model (the `classification_routing` flag on for the user, and no variant model, which wins).
 * The API (lookups) and the worker (writes) both derive them here.
 */
export function settingsUnderVariant(
  settings: AnswerSettings,
  variant: { model?: string | undefined; prompt?: string | undefined } | undefined,
  options: { routing: boolean },
): AnswerSettings {
  return {
    ...settings,
    routing: options.routing && !variant?.model ? settings.routing : null,
    ...(variant?.model ? { model: variant.model } : {}),
    ...(variant?.prompt ? { prompt: variant.prompt } : {}),
  };
}

/**
 * {@link loadConfig} for an app's `main.ts`: on a bad environment, prints every problem and exits
 * with EX_CONFIG (78) before any connection opens.
 */
export function loadConfigOrExit(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
}
