import type { AnswerCache, AnswerSettings, CacheEpochs, ContextCache, SemanticCache } from '@assistant/cache';
import { evidenceFingerprint, semanticQueryText } from '@assistant/cache';
import type { Answer, Source, Tier } from '@assistant/contracts';
import type { QueriesRepo } from '@assistant/db';
import type { Embedder } from '@assistant/embeddings';
import type { Budget } from '@assistant/limits';
import type { FallbackChain, GenerateResult } from '@assistant/llm';
import type { CostQueue, EventStream } from '@assistant/queue';
import type { Metrics } from '@assistant/telemetry';
import { buildContext, type Excerpts } from './pipeline/build-context.ts';
import { classifyQuery } from './pipeline/classify.ts';
import { costMicros, type Pricing } from './pipeline/cost.ts';
import type { RetrievedChunk, Retriever } from './pipeline/retrieve.ts';
import { TerminalError } from './terminal-error.ts';

/** Collaborators of the answer pipeline. */
export type AnswerPipelineDeps = {
  embedder: Embedder;
  retriever: Retriever;
  /** A fallback chain for this question (models behind breakers, the cache, extractive). */
  chainFor: (lookup: {
    state: Awaited<ReturnType<CacheEpochs['readCacheState']>>;
    query: string;
    useCache: boolean;
  }) => FallbackChain;
  countTokens: (text: string) => number;
  pricing: (provider: string, model: string) => Pricing;
  /** Price of the most expensive model the chain may use: what a reservation assumes. */
  worstCasePricing: Pricing;
  epochs: Pick<CacheEpochs, 'readCacheState'>;
  answerCache: Pick<AnswerCache, 'set'>;
  semanticCache: Pick<SemanticCache, 'lookup' | 'store'>;
  contextCache: Pick<ContextCache<Excerpts>, 'get' | 'set'>;
  budget: Pick<Budget, 'reserve' | 'settle'>;
  costQueue: Pick<CostQueue, 'enqueue'>;
  queries: Pick<QueriesRepo, 'markSucceeded'>;
  events: Pick<EventStream, 'append'>;
  metrics: Metrics;
  now: () => number;
  settings: AnswerSettings;
  global: { dailyBudgetMicros: number };
  options: { maxTokens: number; maxContextTokens: number; topK: number };
};

/** The question being answered. */
export type AnswerTask = {
  queryId: string;
  userId: string;
  tier: Tier;
  query: string;
  dailyBudgetMicros: number;
  /** `Cache-Control: no-store`: reuse no cached answer and store none. */
  bypassCache: boolean;
};

function toSource(chunk: RetrievedChunk): Source {
  return { note_id: chunk.noteId, title: chunk.title, text: chunk.text, score: chunk.score };
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * classify → embed → retrieve → build_context → semantic cache → reserve budget → generate →
 * settle and record → cache. Each step is timed. Publishes `sources`, `token`, `restart` and,
 * once the row is stored, `done`; errors propagate to the processor, which decides on retries.
 */
export function createAnswerPipeline(deps: AnswerPipelineDeps) {
  async function step<T>(name: string, run: () => T | Promise<T>): Promise<T> {
    const end = deps.metrics.stepDuration.startTimer({ step: name });
    try {
      return await run();
    } finally {
      end();
    }
  }

  /** Stores the answer and announces it; only the attempt that finished the row publishes `done`. */
  async function finish(task: AnswerTask, answer: Answer, extra: { costMicros: number; cached: boolean }) {
    const stored = await deps.queries.markSucceeded(task.queryId, {
      answer: answer.answer,
      sources: answer.sources,
      model: answer.model,
      provider: answer.provider,
      promptTokens: answer.usage.prompt_tokens,
      completionTokens: answer.usage.completion_tokens,
      costMicros: extra.costMicros,
      truncated: answer.truncated,
      cached: extra.cached,
    });
    if (stored) await deps.events.append(task.queryId, { type: 'done', result: answer });
    return stored;
  }

  return async function runAnswerPipeline(task: AnswerTask): Promise<void> {
    const { queryId, userId, query } = task;
    const state = await deps.epochs.readCacheState(userId, task.tier);
    const classification = await step('classify', () => classifyQuery(query));
    // One inference for both: the raw question (retrieval) and its normalised form (semantic cache).
    const [vector, semanticVector] = await step('embed', () =>
      deps.embedder.embed([query, semanticQueryText(query)]),
    );
    const retrieved = await step('retrieve', () =>
      deps.retriever.retrieve({ userId, query, vector: vector!, limit: deps.options.topK }),
    );
    const context = await step('build_context', () =>
      buildContext(
        { query, sources: retrieved, classification },
        {
          maxContextTokens: deps.options.maxContextTokens,
          countTokens: deps.countTokens,
          excerpts: {
            // The block depends on exactly these chunks (ids change with every re-index) and the budget.
            key: `${deps.options.maxContextTokens}|${retrieved.map((c) => c.chunkId).join(',')}`,
            get: (key) => deps.contextCache.get(key),
            set: (key, value) => deps.contextCache.set(key, value),
          },
        },
      ),
    );
    const sources = context.sources.map(toSource);
    await deps.events.append(queryId, { type: 'sources', sources });
    const evidence = context.sources.map((s) => ({
      noteId: s.noteId,
      chunkId: s.chunkId,
      version: s.noteVersion,
    }));
    const evidenceKey = evidenceFingerprint(evidence);

    const similar = task.bypassCache
      ? undefined
      : await step('semantic_cache', () =>
          deps.semanticCache.lookup({
            state,
            settings: deps.settings,
            query,
            vector: semanticVector!,
            evidenceKey,
          }),
        );
    if (similar) {
      const answer: Answer = {
        ...similar,
        usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        cost_usd: 0,
      };
      await deps.events.append(queryId, { type: 'token', text: answer.answer });
      await enqueueCost(task, answer, 0, true, { inputNanosPerToken: 0, outputNanosPerToken: 0 });
      deps.metrics.answersBySource.inc({ source: 'semantic_cache', truncated: String(answer.truncated) });
      await finish(task, answer, { costMicros: 0, cached: true });
      return;
    }

    // Reserve the worst case before spending: the prompt plus every token we allow, at the
    // dearest price in the chain. A retry of this query reuses its reservation.
    const promptTokens = context.messages.reduce((n, m) => n + deps.countTokens(m.content) + 4, 0);
    const worstCase = costMicros(deps.worstCasePricing, {
      promptTokens,
      completionTokens: deps.options.maxTokens,
    });
    const reservation = await step('reserve_budget', () =>
      deps.budget.reserve({
        userId,
        queryId,
        amountMicros: worstCase,
        userBudgetMicros: task.dailyBudgetMicros,
        globalBudgetMicros: deps.global.dailyBudgetMicros,
      }),
    );
    if (!reservation.ok) {
      throw new TerminalError(
        'budget_exceeded',
        reservation.scope === 'user'
          ? 'your daily budget cannot cover this question'
          : 'the service-wide daily budget is spent',
      );
    }

    const pending: Promise<unknown>[] = [];
    const result = await step('generate', async () => {
      const generated = await deps.chainFor({ state, query, useCache: !task.bypassCache }).generate(
        { messages: context.messages, query, sources: context.sources, maxTokens: deps.options.maxTokens },
        (token) => {
          // Pipelined on one connection: order is kept without a round trip per token.
          pending.push(deps.events.append(queryId, { type: 'token', text: token }));
        },
        {
          onRestart: async (notice) => {
            await Promise.all(pending);
            await deps.events.append(queryId, {
              type: 'restart',
              reason: `${notice.provider}:${notice.model} failed (${notice.reason}); answering again`,
            });
          },
        },
      );
      await Promise.all(pending);
      return generated;
    });

    await step('record', async () => {
      const pricing =
        result.fallback.source === 'cache'
          ? { inputNanosPerToken: 0, outputNanosPerToken: 0 }
          : deps.pricing(result.provider, result.model);
      const cost = costMicros(pricing, result.usage);
      await deps.budget.settle({ userId, queryId, actualMicros: cost });
      const answer = toAnswer(result, sources, cost);
      await enqueueCost(task, answer, cost, result.fallback.source === 'cache', pricing);
      deps.metrics.costMicros.inc({ model: result.model }, cost);
      deps.metrics.llmTokens.inc(
        { provider: result.provider, model: result.model, direction: 'prompt' },
        result.usage.promptTokens,
      );
      deps.metrics.llmTokens.inc(
        { provider: result.provider, model: result.model, direction: 'completion' },
        result.usage.completionTokens,
      );
      deps.metrics.answersBySource.inc({
        source: result.fallback.source,
        truncated: String(result.truncated),
      });
      // Caches first, `done` last: a client that asks again once it sees `done` finds the answer.
      if (!task.bypassCache && result.fallback.source !== 'cache') {
        const candidate = { answer, evidence, fallback: result.fallback.usedFallback };
        await Promise.all([
          deps.answerCache.set({ state, query, settings: deps.settings, ...candidate }),
          deps.semanticCache.store({
            state,
            settings: deps.settings,
            query,
            vector: semanticVector!,
            evidenceKey,
            ...candidate,
          }),
        ]);
      }
      await finish(task, answer, { costMicros: cost, cached: result.fallback.source === 'cache' });
    });
  };

  async function enqueueCost(
    task: AnswerTask,
    answer: Answer,
    cost: number,
    cached: boolean,
    pricing: Pricing,
  ) {
    await deps.costQueue.enqueue({
      query_id: task.queryId,
      user_id: task.userId,
      day: utcDay(deps.now()),
      provider: answer.provider,
      model: answer.model,
      prompt_tokens: answer.usage.prompt_tokens,
      completion_tokens: answer.usage.completion_tokens,
      input_nanos_per_token: pricing.inputNanosPerToken,
      output_nanos_per_token: pricing.outputNanosPerToken,
      cost_micros: cost,
      cached,
    });
  }
}

function toAnswer(result: GenerateResult, sources: Source[], cost: number): Answer {
  return {
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
  };
}
