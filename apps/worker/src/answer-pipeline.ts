import type { AnswerCache, CacheEpochs, ContextCache, SemanticCache } from '@assistant/cache';
import { evidenceFingerprint } from '@assistant/cache';
import { type AnswerSettings, DEFAULT_PROMPT, promptTemplate, settingsUnderVariant } from '@assistant/config';
import type {
  Answer,
  AnswerQuality,
  AssignedVariant,
  EscalationInfo,
  QueryEvent,
  Route,
  Source,
  Tier,
} from '@assistant/contracts';
import {
  type CostsRepo,
  ledgerEntryOf,
  microsToUsd,
  type NotesRepo,
  type QueriesRepo,
  type QueryRow,
  rowOfAnswer,
  terminalEventOf,
  usageOf,
} from '@assistant/db';
import type { Embedder } from '@assistant/embeddings';
import type { Budget } from '@assistant/limits';
import {
  type ChatMessage,
  type FallbackChain,
  type FallbackResult,
  type GenerateResult,
  NO_SOURCES_ANSWER,
} from '@assistant/llm';
import type { EventStream } from '@assistant/queue';
import { type CacheTierLabel, type Metrics, type Span, withSpan } from '@assistant/telemetry';
import { countChainAnswer } from './pipeline/answer-metrics.ts';
import { buildContext, type Excerpts } from './pipeline/build-context.ts';
import { type ClassifierOptions, classifyQuery } from './pipeline/classify.ts';
import { costMicros, type Pricing } from './pipeline/cost.ts';
import { createAnswerJudge, type EscalationConfig, escalationReservation } from './pipeline/judge-answer.ts';
import type { RetrievedChunk, Retriever } from './pipeline/retrieve.ts';
import { chooseModel, noContextRoute, type RoutingOptions } from './pipeline/route.ts';
import type { ScoreOptions } from './pipeline/score-answer.ts';
import { createTokenBatcher, type TokenBatcherOptions } from './pipeline/token-batcher.ts';
import { TerminalError } from './terminal-error.ts';

/** Collaborators of the answer pipeline. */
export type AnswerPipelineDeps = {
  embedder: Embedder;
  retriever: Retriever;
  /** The process's fallback chain (models behind breakers, then the cached answer, then extractive). */
  chain: FallbackChain;
  /** This question's earlier answer as a generation result, if still valid: the chain's cache step. */
  cachedAnswer: (lookup: {
    state: Awaited<ReturnType<CacheEpochs['readCacheState']>>;
    query: string;
    settings: AnswerSettings;
  }) => Promise<GenerateResult | undefined>;
  countTokens: (text: string) => number;
  pricing: (provider: string, model: string) => Pricing;
  /** Price of the most expensive model the chain may use: what a reservation assumes. */
  worstCasePricing: Pricing;
  /**
   * The chain (and its worst-case price) that starts with a given model, for a question whose
   * experiment variant or routing class names one other than the default; absent: every question
   * uses `chain`.
   */
  chainFor?: (model: string) => { chain: FallbackChain; worstCasePricing: Pricing };
  /**
   * Answer scoring (flag `quality_scoring`): the embedder the answer's sentences go through (the
   * warm model without the Redis embedding cache: answer sentences rarely repeat) and the
   * scorer's options. @defaultValue `embedder`, `SCORE_DEFAULTS`
   */
  scoring?: { embedder?: Embedder; options?: ScoreOptions };
  /**
   * Escalation (flag `escalation`, off by default): an answer scoring below `threshold` that a
   * model other than `model` wrote is answered again, once, by `chain` (which starts with
   * `model`). Absent: never escalated (the extractive provider has no model to escalate to).
   */
  escalation?: EscalationConfig;
  epochs: Pick<CacheEpochs, 'readCacheState'>;
  answerCache: Pick<AnswerCache, 'set'>;
  /**
   * The cited notes' current versions, checked before an answer is cached: a stored answer then
   * cites only notes current at its generation, which is what lets the API serve a hit without
   * reading Postgres (see `AnswerLookup.currentVersions`).
   */
  notes: Pick<NotesRepo, 'versions'>;
  semanticCache: Pick<SemanticCache, 'lookup' | 'store'>;
  contextCache: Pick<ContextCache<Excerpts>, 'get' | 'set'>;
  budget: Pick<Budget, 'reserve' | 'settle'>;
  /** Records a replayed row's ledger entry if its run died before (idempotent by query id). */
  costs: Pick<CostsRepo, 'record'>;
  queries: Pick<QueriesRepo, 'markSucceeded'>;
  events: Pick<EventStream, 'append'>;
  metrics: Metrics;
  /** Folds a model name outside the configured table into `other` (bounded metric labels). */
  modelLabel: (model: string) => string;
  now: () => number;
  settings: AnswerSettings;
  global: { dailyBudgetMicros: number };
  options: {
    maxTokens: number;
    maxContextTokens: number;
    topK: number;
    /**
     * Nothing retrieved means the notes do not cover the question: answer `no_context` without a
     * model (`RETRIEVAL_ANSWERABILITY=gate`). Off: the model answers with an empty context.
     */
    noContext: boolean;
    /** How streamed tokens are grouped into stream appends. */
    tokenBatch: TokenBatcherOptions;
    /** The classifier's thresholds (ROUTING_COMPLEX_MIN_*). */
    classifier: ClassifierOptions;
    /** The model per class (`classification_routing` on for the user). */
    routing: RoutingOptions;
  };
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
  /** This run's claim on the query's stream (its job lock token). */
  owner: string;
  /** Numbers this run's events in order (1, 2, …), so a re-sent append is written once. */
  nextSeq: () => number;
  /** Aborted when this run lost its job (lock not renewed): stops the LLM call. */
  signal?: AbortSignal;
  /** The experiment variant the question is answered under (its model and prompt). */
  experiment?: AssignedVariant;
  /**
   * Features as the flags decided for this user when the run started (on when absent): the
   * exact and semantic caches, the budget reservation and the breakers are honoured here;
   * routing, scoring, escalation and tracing are decided for their steps to read (`on()` for the
   * ones on by default; escalation, off by default, is `features?.escalation === true`).
   */
  features?: Partial<
    Record<
      | 'exactCache'
      | 'semanticCache'
      | 'budgets'
      | 'breakers'
      | 'classificationRouting'
      | 'qualityScoring'
      | 'escalation'
      | 'tracing',
      boolean
    >
  >;
};

/** Whether a feature is on for this run (on unless the flags turned it off). */
export function on(task: AnswerTask, feature: keyof NonNullable<AnswerTask['features']>): boolean {
  return task.features?.[feature] !== false;
}

/** How a run answered: which cache, if any, gave the answer (for the query-duration histogram). */
export type RunSummary = { cache: CacheTierLabel };

/** Thrown when another run (a rescuer after a lost lock) owns the query now: stop quietly. */
export class SupersededError extends Error {
  constructor(queryId: string) {
    super(`query ${queryId} is being answered by another run`);
    this.name = 'SupersededError';
  }
}

function toSource(chunk: RetrievedChunk): Source {
  return { note_id: chunk.noteId, title: chunk.title, text: chunk.text, score: chunk.score };
}

/**
 * embed → retrieve → classify (and pick the model) → build_context → semantic cache → reserve budget → generate →
 * score (flag `quality_scoring`) → escalate (flag `escalation`: a low score is answered again,
 * once, by the stronger model, after a `restart`) → record: store the row with its ledger entry (one transaction), write the caches, then settle
 * the budget and publish `done` (see {@link finish}). Each step is timed. Publishes `sources`, `token` and
 * `restart` on the way; errors propagate to the processor, which decides on retries.
 */
export function createAnswerPipeline(deps: AnswerPipelineDeps) {
  /** One timed step in its span, `assistant.<name>` (a child of the attempt's span). */
  async function step<T>(name: string, run: (span: Span) => T | Promise<T>): Promise<T> {
    const end = deps.metrics.stepDuration.startTimer({ step: name });
    try {
      return await withSpan(`assistant.${name}`, run);
    } finally {
      end();
    }
  }

  /** Appends as this run; a refusal means another run owns the query now. */
  async function emit(task: AnswerTask, event: QueryEvent): Promise<void> {
    const id = await deps.events.append(task.queryId, event, { token: task.owner, seq: task.nextSeq() });
    if (id === undefined) throw new SupersededError(task.queryId);
  }

  /**
   * The side effects of a succeeded row, each idempotent: settle the budget (once per query) and
   * the `done` event (refused once the stream has ended).
   * Run after the row is stored, and again by a replay after a crash, so none is ever lost.
   */
  async function announceSucceeded(
    row: QueryRow,
    owner?: Pick<AnswerTask, 'owner' | 'nextSeq'>,
  ): Promise<void> {
    const cost = row.costMicros ?? 0;
    await withSpan('assistant.settle_budget', { attributes: { cost_micros: cost } }, () =>
      deps.budget.settle({ userId: row.userId, queryId: row.id, actualMicros: cost }),
    );
    // The escalation's own reservation is freed (its cost is in the row's, settled above).
    if (row.escalation) {
      await deps.budget.settle({
        userId: row.userId,
        queryId: escalationReservation(row.id),
        actualMicros: 0,
      });
    }
    const done = terminalEventOf(row);
    if (done?.type !== 'done') return;
    await deps.events.append(row.id, done, owner ? { token: owner.owner, seq: owner.nextSeq() } : undefined);
  }

  /**
   * Stores the answer (only the run that moves the row from running to succeeded goes on), then
   * writes the caches (before `done`: a client that asks again on `done` finds the answer) and
   * announces it.
   */
  async function finish(
    task: AnswerTask,
    answer: Answer,
    extra: { costMicros: number; cached: boolean; pricing: Pricing; cache?: () => Promise<unknown> },
  ): Promise<void> {
    const stored = await deps.queries.markSucceeded(
      task.queryId,
      rowOfAnswer(answer, { costMicros: extra.costMicros, cached: extra.cached }),
      (row) => ledgerEntryOf(row, extra.pricing, deps.now()),
    );
    if (!stored) return;
    await extra.cache?.();
    await announceSucceeded(stored, task);
  }

  /**
   * The `no_context` outcome: the notes do not cover the question. No sources, no model call, no
   * budget, no cost; cached like any answer (a notes change moves the generation on).
   */
  async function answerNoContext(
    task: AnswerTask,
    state: Awaited<ReturnType<CacheEpochs['readCacheState']>>,
    settings: AnswerSettings,
  ): Promise<void> {
    const route = noContextRoute(on(task, 'classificationRouting'));
    if (route) deps.metrics.queryRoutes.inc({ class: route.class, model: route.model });
    await emit(task, { type: 'sources', sources: [] });
    await emit(task, { type: 'token', text: NO_SOURCES_ANSWER });
    const answer: Answer = {
      outcome: 'no_context',
      answer: NO_SOURCES_ANSWER,
      sources: [],
      model: 'none',
      provider: 'none',
      usage: usageOf(0, 0),
      cost_usd: 0,
      truncated: false,
      ...(route ? { route } : {}),
    };
    deps.metrics.answersBySource.inc({ source: 'no_context' });
    await finish(task, answer, {
      costMicros: 0,
      cached: false,
      pricing: FREE,
      cache:
        task.bypassCache || !on(task, 'exactCache')
          ? undefined
          : () =>
              deps.answerCache.set({
                state,
                query: task.query,
                settings,
                answer,
                evidence: [],
                fallback: false,
              }),
    });
  }

  /**
   * One generation through a chain, streamed as it comes: tokens travel in small batches (one
   * stream append per batch, not per token), and a model failing mid-answer restarts the stream.
   */
  async function generateWith(
    task: AnswerTask,
    chain: FallbackChain,
    context: { messages: ChatMessage[]; sources: RetrievedChunk[] },
    cachedAnswer?: () => Promise<GenerateResult | undefined>,
  ): Promise<FallbackResult> {
    const tokens = createTokenBatcher(
      { send: (text) => emit(task, { type: 'token', text }) },
      deps.options.tokenBatch,
    );
    const generated = await chain.generate(
      {
        messages: context.messages,
        query: task.query,
        sources: context.sources,
        maxTokens: deps.options.maxTokens,
        signal: task.signal,
      },
      tokens.push,
      {
        ...(cachedAnswer ? { cachedAnswer } : {}),
        breakers: on(task, 'breakers'),
        onRestart: async (notice) => {
          await tokens.flush();
          tokens.reset();
          await emit(task, {
            type: 'restart',
            reason: `${notice.provider}:${notice.model} failed (${notice.reason}); answering again`,
          });
        },
      },
    );
    await tokens.flush();
    return generated;
  }

  const judge = createAnswerJudge<AnswerTask>({
    embedder: deps.scoring?.embedder ?? deps.embedder,
    options: deps.scoring?.options,
    escalation: deps.escalation,
    budget: deps.budget,
    metrics: deps.metrics,
    global: deps.global,
    maxTokens: deps.options.maxTokens,
    step,
    emit,
    // No cache step: the cached answer may be the very one that scored low.
    generate: (task, chain, prompt) => generateWith(task, chain, prompt),
  });

  async function runAnswerPipeline(task: AnswerTask): Promise<RunSummary> {
    const { queryId, userId, query } = task;
    const routing = on(task, 'classificationRouting');
    // A variant's model and prompt, and the routing table where it picks the model, are part of
    // what the answers are cached under.
    const settings = settingsUnderVariant(deps.settings, task.experiment, { routing });
    // The prompt template the settings name (a variant's, else the default). One the registry no
    // longer holds (removed while its experiment ran) falls back to the default wording.
    const prompt = promptTemplate(settings.prompt) ?? promptTemplate(DEFAULT_PROMPT)!;
    // One inference per question: retrieval and the semantic cache share its vector. The cache
    // state is read meanwhile: its reads and the embedding cache's leave in one write.
    const [state, [vector]] = await Promise.all([
      deps.epochs.readCacheState(userId, task.tier),
      step('embed', () => deps.embedder.embed([query])),
    ]);
    const retrieved = await step('retrieve', async (span) => {
      const chunks = await deps.retriever.retrieve({
        userId,
        query,
        vector: vector!,
        limit: deps.options.topK,
      });
      span.setAttribute('retrieved', chunks.length);
      return chunks;
    });
    // The retriever judged that the notes do not answer: say so, cite nothing, call no model.
    // This is the `no_context` class: routing does not decide it a second time.
    if (retrieved.length === 0 && deps.options.noContext) {
      await answerNoContext(task, state, settings);
      return { cache: 'miss' };
    }
    // After retrieval, as the classifier reads how many notes the chunks come from (and the
    // question's vector, for its centroid rule).
    const classification = await step('classify', () =>
      classifyQuery({ query, sources: retrieved, vector }, deps.options.classifier),
    );
    // Model precedence: the experiment variant's model, then the class's (routing on), then the default.
    const choice = chooseModel(
      { class: classification.class, routing, experimentModel: task.experiment?.model },
      deps.options.routing,
    );
    const route: Route | undefined = choice.route;
    if (route) {
      deps.metrics.queryRoutes.inc({
        class: route.class,
        model: deps.modelLabel(route.model),
      });
    }
    const picked =
      choice.model !== deps.options.routing.defaultModel && deps.chainFor
        ? deps.chainFor(choice.model)
        : { chain: deps.chain, worstCasePricing: deps.worstCasePricing };
    const context = await step('build_context', () =>
      buildContext(
        { query, sources: retrieved, prompt },
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
    // The budget left retrieved chunks out of the prompt.
    if (context.sources.length < retrieved.length) deps.metrics.truncations.inc({ kind: 'context' });
    const sources = context.sources.map(toSource);
    const evidence = context.sources.map((s) => ({
      noteId: s.noteId,
      chunkId: s.chunkId,
      version: s.noteVersion,
    }));
    const evidenceKey = evidenceFingerprint(evidence);

    // Reserve the worst case before spending: the prompt plus every token we allow, at the
    // dearest price in the chain. A retry of this query reuses its reservation.
    const promptTokens = context.messages.reduce((n, m) => n + deps.countTokens(m.content) + 4, 0);
    const worstCase = costMicros(picked.worstCasePricing, {
      promptTokens,
      completionTokens: deps.options.maxTokens,
    });
    // The `sources` append, the semantic-cache lookup and the reservation leave together (one
    // write, one wait instead of three). A semantic hit then frees the reservation when it
    // settles at no cost; a refused reservation does not stop a semantic hit, as before.
    const sourcesSent = emit(task, { type: 'sources', sources });
    const lookingUp =
      task.bypassCache || !on(task, 'semanticCache')
        ? undefined
        : step('semantic_cache', async (span) => {
            const hit = await deps.semanticCache.lookup({
              state,
              settings,
              query,
              vector: vector!,
              evidenceKey,
            });
            span.setAttributes({ 'cache.tier': 'semantic', 'cache.hit': hit !== undefined });
            return hit;
          });
    // The `budgets` flag off: nothing is reserved or refused (the spend is still settled).
    const reserving = on(task, 'budgets')
      ? step('reserve_budget', async (span) => {
          const reserved = await deps.budget.reserve({
            userId,
            queryId,
            amountMicros: worstCase,
            userBudgetMicros: task.dailyBudgetMicros,
            globalBudgetMicros: deps.global.dailyBudgetMicros,
          });
          span.setAttributes({ reserved_micros: worstCase, 'budget.ok': reserved.ok });
          return reserved;
        })
      : ({ ok: true } as const);
    const [, similar, reservation] = await Promise.all([sourcesSent, lookingUp, reserving]);
    if (similar) {
      const answer: Answer = {
        ...similar,
        usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        cost_usd: 0,
        // This question's route, not the one of the question whose answer it reuses.
        route,
      };
      await emit(task, { type: 'token', text: answer.answer });
      deps.metrics.answersBySource.inc({ source: 'semantic_cache' });
      await finish(task, answer, { costMicros: 0, cached: true, pricing: FREE });
      return { cache: 'semantic' };
    }

    if (!reservation.ok) {
      throw new TerminalError(
        'budget_exceeded',
        reservation.scope === 'user'
          ? 'your daily budget cannot cover this question'
          : 'the service-wide daily budget is spent',
      );
    }

    const result = await step('generate', async (span) => {
      const generated = await generateWith(
        task,
        picked.chain,
        context,
        task.bypassCache || !on(task, 'exactCache')
          ? undefined
          : () => deps.cachedAnswer({ state, query, settings }),
      );
      span.setAttributes({
        provider: generated.provider,
        model: generated.model,
        prompt_tokens: generated.usage.promptTokens,
        completion_tokens: generated.usage.completionTokens,
        'fallback.source': generated.fallback.source,
        truncated: generated.truncated,
      });
      return generated;
    });

    // Scoring and escalation read the answer as generated; nothing of them reaches the model.
    const {
      final,
      quality: finalQuality,
      first,
    } = await judge.judge(task, result, {
      messages: context.messages,
      sources: context.sources,
      promptTokens,
    });

    await step('record', async (span) => {
      const cached = final.fallback.source === 'cache';
      const pricing = cached ? FREE : deps.pricing(final.provider, final.model);
      // An escalated answer costs both attempts: one ledger entry and one settle of the sum.
      const firstCost = first
        ? costMicros(deps.pricing(first.result.provider, first.result.model), first.result.usage)
        : 0;
      const finalCost = costMicros(pricing, final.usage);
      const cost = finalCost + firstCost;
      span.setAttributes({ model: final.model, cost_micros: cost, cost_usd: microsToUsd(cost) });
      const answer = toAnswer(final, sources, cost, {
        route,
        quality: finalQuality,
        first: first && {
          model: first.result.model,
          provider: first.result.provider,
          score: first.quality.score,
          usage: usageOf(first.result.usage.promptTokens, first.result.usage.completionTokens),
          cost_usd: microsToUsd(firstCost),
          escalated_to: first.escalatedTo,
        },
      });
      // The discarded first attempt's spend and failures count; the answer counts once, as the final.
      if (first)
        countChainAnswer(deps.metrics, deps.modelLabel, first.result, firstCost, { discarded: true });
      countChainAnswer(deps.metrics, deps.modelLabel, final, finalCost);
      if (finalQuality) {
        deps.metrics.qualityScore.observe(
          { source: final.fallback.source, escalated: String(first !== undefined) },
          finalQuality.score,
        );
      }
      const cacheable = !task.bypassCache && !cached;
      // A cache hit reuses the answer and its quality; the escalation was this query's own spend.
      const candidate = {
        answer: { ...answer, escalation: undefined },
        evidence,
        fallback: final.fallback.usedFallback,
      };
      const writes = [
        ...(on(task, 'exactCache')
          ? [
              () =>
                deps.answerCache.set({
                  state,
                  query,
                  settings,
                  ...candidate,
                  currentVersions: (ids) => deps.notes.versions(userId, ids),
                }),
            ]
          : []),
        ...(on(task, 'semanticCache')
          ? [
              () =>
                deps.semanticCache.store({
                  state,
                  settings,
                  query,
                  vector: vector!,
                  evidenceKey,
                  ...candidate,
                }),
            ]
          : []),
      ];
      await finish(task, answer, {
        costMicros: cost,
        cached,
        pricing,
        cache: cacheable && writes.length > 0 ? () => Promise.all(writes.map((write) => write())) : undefined,
      });
    });
    return { cache: result.fallback.source === 'cache' ? 'exact' : 'miss' };
  }

  return {
    run: runAnswerPipeline,
    /** Completes the side effects of a query a crashed run had already stored. */
    async reconcile(row: QueryRow): Promise<void> {
      if (row.status === 'succeeded') {
        const pricing = row.provider && row.model ? deps.pricing(row.provider, row.model) : FREE;
        // Stored with its entry in one transaction; a row of an older release may lack it.
        await deps.costs.record(ledgerEntryOf(row, pricing, deps.now()));
        await announceSucceeded(row);
      }
    },
  };
}

const FREE: Pricing = { inputNanosPerToken: 0, outputNanosPerToken: 0 };

/**
 * The stored answer of a generation, with its route when it was routed. Escalated (`first`):
 * usage and cost count both attempts, and `escalation` records the first.
 */
function toAnswer(
  result: FallbackResult,
  sources: Source[],
  cost: number,
  scored: {
    route?: Route | undefined;
    quality?: AnswerQuality | undefined;
    first?: EscalationInfo | undefined;
  } = {},
): Answer {
  const { source, attempts, usedFallback } = result.fallback;
  const earlier = scored.first?.usage;
  return {
    outcome: 'answered',
    // Recorded only when a fallback was involved: which source answered, why the others did not.
    ...(usedFallback || source !== 'primary'
      ? {
          fallback: {
            source,
            attempts: attempts.map((a) => ({
              provider: a.provider,
              model: a.model,
              outcome: a.outcome,
              reason: a.reason,
            })),
          },
        }
      : {}),
    answer: result.text,
    sources,
    model: result.model,
    provider: result.provider,
    usage: usageOf(
      result.usage.promptTokens + (earlier?.prompt_tokens ?? 0),
      result.usage.completionTokens + (earlier?.completion_tokens ?? 0),
    ),
    cost_usd: microsToUsd(cost),
    truncated: result.truncated,
    ...(scored.route ? { route: scored.route } : {}),
    ...(scored.quality ? { quality: scored.quality } : {}),
    ...(scored.first ? { escalation: scored.first } : {}),
  };
}
