import { AnswerJob, type ErrorCode, type Source } from '@assistant/contracts';
import type { QueriesRepo } from '@assistant/db';
import { type GenerateResult, LlmError, type LlmProvider } from '@assistant/llm';
import type { EventStream } from '@assistant/queue';
import type { Logger, Metrics } from '@assistant/telemetry';
import { type Job, UnrecoverableError } from 'bullmq';
import { buildContext } from './pipeline/build-context.ts';
import { classifyQuery } from './pipeline/classify.ts';
import { costMicros, type Pricing } from './pipeline/cost.ts';
import { type Embedder, embedQuery } from './pipeline/embed-query.ts';
import type { RetrievedChunk, Retriever } from './pipeline/retrieve.ts';

/** Collaborators of the answer pipeline, built by the worker's composition root. */
export type AnswerProcessorDeps = {
  queries: Pick<QueriesRepo, 'find' | 'markRunning' | 'markSucceeded' | 'markFailed'>;
  events: Pick<EventStream, 'append'>;
  embedder: Embedder;
  retriever: Retriever;
  llm: LlmProvider;
  countTokens: (text: string) => number;
  pricing: (provider: string, model: string) => Pricing;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  options: { maxTokens: number; maxContextTokens: number; topK: number };
};

/** A terminal failure as stored and published. */
type Failure = { code: ErrorCode; message: string };

function toFailure(error: unknown): Failure {
  if (error instanceof LlmError) {
    if (error.kind === 'bad_request')
      return { code: 'upstream_error', message: 'the language model rejected the request' };
    return { code: 'upstream_unavailable', message: `the language model is unavailable (${error.kind})` };
  }
  if (error instanceof UnrecoverableError) return { code: 'invalid_request', message: error.message };
  return { code: 'generation_failed', message: 'the answer could not be generated' };
}

function isRetryable(error: unknown): boolean {
  if (error instanceof UnrecoverableError) return false;
  if (error instanceof LlmError) return error.retryable;
  return true;
}

function toSource(source: RetrievedChunk): Source {
  return { note_id: source.noteId, title: source.title, text: source.text, score: source.score };
}

/**
 * The `answer-query` processor: classify → embed → retrieve → build_context → generate → record,
 * each step timed. Errors steer BullMQ: a bad payload is unrecoverable, transient failures throw
 * for `attempts`/`backoff`, and the last attempt publishes exactly one terminal `error` event
 * (the conditional row update in {@link failQuery} is the arbiter of "exactly one").
 */
export function createAnswerProcessor(deps: AnswerProcessorDeps) {
  async function step<T>(name: string, run: () => T | Promise<T>): Promise<T> {
    const end = deps.metrics.stepDuration.startTimer({ step: name });
    try {
      return await run();
    } finally {
      end();
    }
  }

  async function answer(queryId: string, userId: string, query: string): Promise<void> {
    const classification = await step('classify', () => classifyQuery(query));
    const vector = await step('embed', () => embedQuery(deps.embedder, query));
    const retrieved = await step('retrieve', () =>
      deps.retriever.retrieve({ userId, query, vector, limit: deps.options.topK }),
    );
    const context = await step('build_context', () =>
      buildContext(
        { query, sources: retrieved, classification },
        { maxContextTokens: deps.options.maxContextTokens, countTokens: deps.countTokens },
      ),
    );
    const sources = context.sources.map(toSource);
    await deps.events.append(queryId, { type: 'sources', sources });

    const result: GenerateResult = await step('generate', async () => {
      // Appends are pipelined on one connection: order is kept without a round trip per token.
      const pending: Promise<string>[] = [];
      const generated = await deps.llm.generate(
        { messages: context.messages, query, sources: context.sources, maxTokens: deps.options.maxTokens },
        (token) => {
          pending.push(deps.events.append(queryId, { type: 'token', text: token }));
        },
      );
      await Promise.all(pending);
      return generated;
    });

    await step('record', async () => {
      const cost = costMicros(deps.pricing(result.provider, result.model), result.usage);
      const stored = await deps.queries.markSucceeded(queryId, {
        answer: result.text,
        sources,
        model: result.model,
        provider: result.provider,
        promptTokens: result.usage.promptTokens,
        completionTokens: result.usage.completionTokens,
        costMicros: cost,
        truncated: result.truncated,
      });
      deps.metrics.llmTokens.inc(
        { provider: result.provider, model: result.model, direction: 'prompt' },
        result.usage.promptTokens,
      );
      deps.metrics.llmTokens.inc(
        { provider: result.provider, model: result.model, direction: 'completion' },
        result.usage.completionTokens,
      );
      // Only the attempt that finished the row announces it: a replayed job publishes nothing.
      if (!stored) return;
      await deps.events.append(queryId, {
        type: 'done',
        result: {
          answer: result.text,
          sources,
          model: result.model,
          provider: result.provider,
          usage: {
            prompt_tokens: result.usage.promptTokens,
            completion_tokens: result.usage.completionTokens,
            total_tokens: result.usage.promptTokens + result.usage.completionTokens,
          },
          cost_usd: cost / 1e6,
          truncated: result.truncated,
        },
      });
    });
  }

  /** Marks a query failed and publishes its one terminal event; a no-op if it already finished. */
  async function failQuery(queryId: string, failure: Failure): Promise<void> {
    if (await deps.queries.markFailed(queryId, failure)) {
      await deps.events.append(queryId, { type: 'error', error: failure });
    }
  }

  async function processAnswerJob(job: Job): Promise<void> {
    const parsed = AnswerJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid answer job payload: ${parsed.error.message}`);
    const payload = parsed.data;
    const row = await deps.queries.find(payload.query_id);
    if (!row || row.userId !== payload.user_id)
      throw new UnrecoverableError(`unknown query ${payload.query_id}`);
    if (row.status === 'succeeded' || row.status === 'failed') return; // a replay of a finished job

    const attempt = job.attemptsMade + 1;
    const log = deps.logger.child({ queryId: row.id, requestId: payload.request_id, attempt });
    const end = deps.metrics.jobDuration.startTimer({ queue: 'answer-query' });
    await deps.queries.markRunning(row.id, attempt);
    await deps.events.append(row.id, { type: 'started', attempt });
    try {
      await answer(row.id, row.userId, row.query);
      end({ outcome: 'succeeded' });
      deps.metrics.queryDuration.observe({ outcome: 'succeeded' }, (deps.now() - payload.enqueued_at) / 1000);
    } catch (error) {
      const final = !isRetryable(error) || attempt >= (job.opts.attempts ?? 1);
      end({ outcome: final ? 'failed' : 'retried' });
      log.warn({ err: error, final }, 'answer attempt failed');
      if (!final) throw error;
      await failQuery(row.id, toFailure(error));
      deps.metrics.queryDuration.observe({ outcome: 'failed' }, (deps.now() - payload.enqueued_at) / 1000);
      throw error instanceof UnrecoverableError
        ? error
        : new UnrecoverableError(String((error as Error)?.message));
    }
  }

  return { processAnswerJob, failQuery };
}

/** The processor's interface. */
export type AnswerProcessor = ReturnType<typeof createAnswerProcessor>;
