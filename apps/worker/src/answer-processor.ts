import type { SingleFlight } from '@assistant/cache';
import { AnswerJob, type ErrorCode } from '@assistant/contracts';
import { type QueriesRepo, type QueryRow, terminalEventOf } from '@assistant/db';
import type { Flags } from '@assistant/flags';
import type { Admission, Budget, RunSlots } from '@assistant/limits';
import { LlmError } from '@assistant/llm';
import type { EventStream } from '@assistant/queue';
import {
  dependencyFailureOf,
  extractContext,
  isDatabaseUnavailable,
  type Logger,
  type Metrics,
  type Span,
  withoutTracing,
  withSpan,
} from '@assistant/telemetry';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { type AnswerTask, type RunSummary, SupersededError } from './answer-pipeline.ts';
import { TerminalError } from './terminal-error.ts';

/** Collaborators of the job lifecycle around the pipeline. */
export type AnswerProcessorDeps = {
  pipeline: {
    run: (task: AnswerTask) => Promise<RunSummary>;
    /** Completes what a crashed run left undone for a finished row (budget, ledger, `done`). */
    reconcile: (row: QueryRow) => Promise<void>;
  };
  queries: Pick<QueriesRepo, 'find' | 'markRunning' | 'markFailed'>;
  events: Pick<EventStream, 'append'>;
  runSlots: Pick<RunSlots, 'acquire' | 'renew' | 'release'>;
  admission: Pick<Admission, 'release'>;
  budget: Pick<Budget, 'settle'>;
  singleFlight: Pick<SingleFlight, 'release'>;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  random: () => number;
  /** Runtime feature flags (in-process snapshot): which features this user's run uses. */
  flags?: Pick<Flags, 'enabled'>;
  /** A question finished for good (succeeded, or failed on its last attempt): the canary counters. */
  onFinished?: (input: { userId: string; failed: boolean; latencyMs: number; at: number }) => void;
  options: {
    /** Lease of a per-user run slot; renewed while the job runs. */
    runSlotLeaseMs: number;
    /** Base delay before a job held back by the per-user running cap is tried again. @defaultValue 500 */
    runSlotRetryMs: number;
    /**
     * While Postgres is unreachable a question waits (its job is delayed, no attempt spent) for
     * up to this long after it was asked, then fails like any other error. @defaultValue 600000
     */
    databaseOutageMaxWaitMs: number;
  };
};

/** A terminal failure as stored and published. */
export type Failure = { code: ErrorCode; message: string };

function toFailure(error: unknown): Failure {
  if (error instanceof TerminalError) return { code: error.code, message: error.message };
  if (error instanceof LlmError) {
    if (error.kind === 'bad_request')
      return { code: 'upstream_error', message: 'the language model rejected the request' };
    return { code: 'upstream_unavailable', message: `the language model is unavailable (${error.kind})` };
  }
  if (error instanceof UnrecoverableError) return { code: 'invalid_request', message: error.message };
  // A dependency of ours failed (the shared classifier): say which, never blame the LLM for it.
  const dependency = dependencyFailureOf(error);
  if (dependency === 'redis' || dependency === 'postgres')
    return { code: 'dependency_unavailable', message: `${dependency} is unavailable` };
  return { code: 'generation_failed', message: 'the answer could not be generated' };
}

function isRetryable(error: unknown): boolean {
  if (error instanceof UnrecoverableError) return false;
  if (error instanceof LlmError) return error.retryable;
  return true;
}

/**
 * The `answer-query` job lifecycle. Takes a per-user run slot (over the cap the job is delayed,
 * not failed), marks the attempt started, runs the pipeline, and on the last failed attempt
 * publishes exactly one terminal `error` (the conditional row update in {@link failQuery} is the
 * arbiter of "exactly one"). Errors steer BullMQ: a bad payload is unrecoverable, transient
 * failures throw for `attempts`/`backoff`.
 */
export function createAnswerProcessor(deps: AnswerProcessorDeps) {
  /**
   * Frees what a query held while it was open: its in-flight slot, and, if it failed, its
   * single-flight marker. A succeeded query keeps its marker until the marker's TTL: an identical
   * question that checked the answer cache a moment before the answer was written then still
   * joins this query instead of starting a second one.
   */
  async function closeQuery(
    job: Pick<AnswerJob, 'query_id' | 'user_id' | 'flight_id'>,
    outcome: 'succeeded' | 'failed',
  ): Promise<void> {
    await Promise.allSettled([
      deps.admission.release(job.user_id, job.query_id),
      job.flight_id && outcome === 'failed'
        ? deps.singleFlight.release(job.user_id, job.flight_id, job.query_id)
        : undefined,
    ]);
  }

  /** Marks a query failed and publishes its one terminal event; a no-op if it already finished. */
  async function failQuery(job: Pick<AnswerJob, 'query_id' | 'user_id' | 'flight_id'>, failure: Failure) {
    if (await deps.queries.markFailed(job.query_id, failure)) {
      // Counted once per query, by whichever run or sweep ended it.
      deps.metrics.queries.inc({ status: 'failed' });
      deps.metrics.errors.inc({ type: failure.code });
      await deps.events.append(job.query_id, { type: 'error', error: failure });
      // Nothing was spent on a failed answer: release its reservation.
      await deps.budget
        .settle({ userId: job.user_id, queryId: job.query_id, actualMicros: 0 })
        .catch(() => {});
    }
    await closeQuery(job, 'failed');
  }

  /** The features the flags give this user now (read from memory, once per run). */
  function featuresOf(userId: string) {
    const flags = deps.flags;
    if (!flags) return undefined;
    return {
      exactCache: flags.enabled('exact_cache', userId),
      semanticCache: flags.enabled('semantic_cache', userId),
      budgets: flags.enabled('budgets', userId),
      breakers: flags.enabled('breakers', userId),
      // Read by the features that land with them (routing, scoring, escalation, tracing).
      classificationRouting: flags.enabled('classification_routing', userId),
      qualityScoring: flags.enabled('quality_scoring', userId),
      escalation: flags.enabled('escalation', userId),
      tracing: flags.enabled('tracing', userId),
    };
  }

  function finished(payload: AnswerJob, failed: boolean): void {
    const at = deps.now();
    deps.onFinished?.({ userId: payload.user_id, failed, latencyMs: at - payload.enqueued_at, at });
  }

  /** Puts a job back to wait, without spending an attempt; BullMQ needs the DelayedError thrown. */
  async function postpone(job: Job, token: string | undefined, baseMs: number): Promise<never> {
    await job.moveToDelayed(deps.now() + baseMs * (0.5 + deps.random()), token);
    throw new DelayedError();
  }

  /**
   * One attempt of a job in its span (`assistant.answer`, attribute `attempt`), a child of the
   * submitting request's span through the job's trace context: every attempt of a retried job
   * is a sibling under the same `assistant.query`. Untraced for a user whose `tracing` flag is off.
   */
  function processAnswerJob(job: Job, token?: string, signal?: AbortSignal): Promise<void> {
    const data = (job.data ?? {}) as Partial<Record<string, unknown>>;
    const userId = typeof data.user_id === 'string' ? data.user_id : undefined;
    const trace = typeof data.trace === 'object' ? (data.trace as Record<string, string>) : undefined;
    const attempt = () =>
      withSpan(
        'assistant.answer',
        {
          kind: 'consumer',
          parent: extractContext(trace),
          attributes: {
            attempt: job.attemptsMade + 1,
            retry: job.attemptsMade > 0,
            ...(typeof data.query_id === 'string' ? { query_id: data.query_id } : {}),
            ...(userId ? { user_id: userId } : {}),
            ...(typeof data.tier === 'string' ? { tier: data.tier } : {}),
          },
          // Put back to wait (run slots, an outage, a lost lock): not a failure of the attempt.
          isFailure: (error) => !(error instanceof DelayedError),
        },
        (span) => processAttempt(job, span, token, signal),
      );
    return userId && deps.flags?.enabled('tracing', userId) === false ? withoutTracing(attempt) : attempt();
  }

  async function processAttempt(job: Job, span: Span, token?: string, signal?: AbortSignal): Promise<void> {
    try {
      await processOnce(job, span, token, signal);
    } catch (error) {
      const enqueuedAt = typeof job.data?.enqueued_at === 'number' ? job.data.enqueued_at : job.timestamp;
      if (isDatabaseUnavailable(error) && deps.now() - enqueuedAt < deps.options.databaseOutageMaxWaitMs) {
        deps.logger.warn({ queryId: job.data?.query_id }, 'postgres unreachable: question waits');
        span.setAttribute('outcome', 'delayed');
        await postpone(job, token, 2_000);
      }
      throw error;
    }
  }

  async function processOnce(job: Job, span: Span, token?: string, signal?: AbortSignal): Promise<void> {
    const parsed = AnswerJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid answer job payload: ${parsed.error.message}`);
    const payload = parsed.data;
    const slotId = job.id ?? payload.query_id;
    if (!(await deps.runSlots.acquire(payload.user_id, slotId, payload.limits.maxRunning))) {
      // Over the user's running cap: wait (jittered), without spending an attempt.
      span.setAttribute('outcome', 'delayed');
      await postpone(job, token, deps.options.runSlotRetryMs);
    }
    const renew = setInterval(() => {
      void deps.runSlots.renew(payload.user_id, slotId).catch(() => {});
    }, deps.options.runSlotLeaseMs / 3);
    let released: Promise<void> | undefined;
    const releaseSlot = () => {
      clearInterval(renew);
      released ??= deps.runSlots.release(payload.user_id, slotId).catch(() => {});
      return released;
    };

    const attempt = job.attemptsMade + 1;
    // One statement claims the attempt and reads the row; none when the query is not open.
    let row: QueryRow | undefined;
    try {
      row = await deps.queries.markRunning(payload.query_id, payload.user_id, attempt);
    } catch (error) {
      await releaseSlot();
      throw error;
    }
    if (!row) {
      await releaseSlot();
      span.setAttribute('outcome', 'replayed');
      await finishReplay(payload);
      return;
    }
    span.setAttribute('query_length', row.query.length);

    const log = deps.logger.child({ queryId: row.id, requestId: payload.request_id, attempt });
    const timer = deps.metrics.jobDuration.startTimer({ queue: 'answer-query' });
    const end = (labels: { outcome: string }) => {
      span.setAttribute('outcome', labels.outcome);
      timer(labels);
    };
    try {
      // This run claims the stream: a run that lost its lock can no longer write to it.
      const owner = token ?? `${slotId}:${attempt}:${deps.now()}`;
      let seq = 0;
      await deps.events.append(row.id, { type: 'started', attempt }, { token: owner, claim: true, seq });
      deps.metrics.concurrentQueries.inc();
      const summary = await deps.pipeline
        .run({
          queryId: row.id,
          userId: row.userId,
          tier: payload.tier,
          query: row.query,
          dailyBudgetMicros: payload.limits.dailyBudgetMicros,
          bypassCache: payload.bypass_cache,
          owner,
          nextSeq: () => ++seq,
          signal,
          ...(payload.experiment ? { experiment: payload.experiment } : {}),
          features: featuresOf(payload.user_id),
        })
        .finally(() => deps.metrics.concurrentQueries.dec());
      end({ outcome: 'succeeded' });
      deps.metrics.queries.inc({ status: 'succeeded' });
      deps.metrics.queryDuration.observe(
        { outcome: 'succeeded', cache: summary.cache },
        (deps.now() - payload.enqueued_at) / 1000,
      );
      finished(payload, false);
      // Both slots freed at once (their commands leave in one write); the `finally` finds it done.
      await Promise.all([closeQuery(payload, 'succeeded'), releaseSlot()]);
    } catch (error) {
      if (error instanceof SupersededError) {
        // Another run took this job over after our lock lapsed; it will finish the query.
        log.warn('superseded by another run; stopping');
        end({ outcome: 'superseded' });
        return;
      }
      if (signal?.aborted) {
        // Our job lock was lost (compose cancels the job on lockRenewalFailed), which aborted the
        // LLM call: the failure is Redis', not the model's. The row stays open for the run that
        // takes the job over; failing it here would blame the LLM.
        // Put back to wait (no attempt spent) when the lock is in fact still ours; when it is not,
        // the move is refused and the stalled-job check hands the job to the next worker.
        log.warn({ err: error }, 'job lock lost; stopping without failing the query');
        end({ outcome: 'lock_lost' });
        await postpone(job, token, deps.options.runSlotRetryMs);
      }
      if (isDatabaseUnavailable(error)) throw error; // the outer handler decides: wait or fail
      const final = !isRetryable(error) || attempt >= (job.opts.attempts ?? 1);
      end({ outcome: final ? 'failed' : 'retried' });
      log.warn({ err: error, final }, 'answer attempt failed');
      if (!final) throw error;
      const failure = toFailure(error);
      span.setAttribute('error.code', failure.code);
      await failQuery(payload, failure);
      deps.metrics.queryDuration.observe(
        { outcome: 'failed', cache: 'miss' },
        (deps.now() - payload.enqueued_at) / 1000,
      );
      finished(payload, true);
      throw error instanceof UnrecoverableError
        ? error
        : new UnrecoverableError(String((error as Error)?.message));
    } finally {
      await releaseSlot();
    }
  }

  /**
   * A job whose query is not open: unknown (or another user's: a corrupt payload), or finished,
   * a replay (say the worker died after storing the answer), which finishes what that run could
   * not. Every step is idempotent.
   */
  async function finishReplay(payload: AnswerJob): Promise<void> {
    const row = await deps.queries.find(payload.query_id);
    if (!row || row.userId !== payload.user_id)
      throw new UnrecoverableError(`unknown query ${payload.query_id}`);
    // The claim found it not open, so it is finished; anything else is retried like any error.
    if (row.status !== 'succeeded' && row.status !== 'failed')
      throw new Error(`query ${row.id} is ${row.status} after its claim found it closed`);
    if (row.status === 'succeeded') await deps.pipeline.reconcile(row);
    else await deps.events.append(row.id, terminalEventOf(row)!);
    await closeQuery(payload, row.status);
  }

  return { processAnswerJob, failQuery };
}

/** The processor's interface. */
export type AnswerProcessor = ReturnType<typeof createAnswerProcessor>;

/**
 * The answer worker's `failed` listener, a safety net: a job that failed for good outside the
 * processor's own handling (it stalled too often) still gets its one terminal event; `failQuery`
 * is a no-op if one was published. Retried attempts are left alone.
 *
 * @example
 * answers.on('failed', (job, error) => failAbandonedJob(processor, logger, job, error));
 */
export function failAbandonedJob(
  processor: Pick<AnswerProcessor, 'failQuery'>,
  logger: Logger,
  job: Pick<Job, 'data' | 'attemptsMade' | 'opts'> | undefined,
  error: Error,
): void {
  if (!job) return;
  const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
  if (final && typeof job.data?.query_id === 'string') {
    void processor
      .failQuery(job.data, { code: 'generation_failed', message: 'the answer could not be generated' })
      .catch((err: unknown) => logger.error({ err }, 'could not record a failed query'));
  }
}
