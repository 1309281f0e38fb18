import type { AnswerQuality, QueryEvent } from '@assistant/contracts';
import type { Embedder } from '@assistant/embeddings';
import type { Budget } from '@assistant/limits';
import type { ChatMessage, FallbackChain, FallbackResult } from '@assistant/llm';
import type { Metrics } from '@assistant/telemetry';
import { costMicros, type Pricing } from './cost.ts';
import type { RetrievedChunk } from './retrieve.ts';
import { SCORE_DEFAULTS, type ScoreOptions, scoreAnswer } from './score-answer.ts';

/** The stronger model a low-scoring answer goes to, and the bar below which it does. */
export type EscalationConfig = {
  model: string;
  threshold: number;
  /** The chain that starts with `model`. */
  chain: FallbackChain;
  /** Its dearest price: what the escalation's reservation assumes. */
  worstCasePricing: Pricing;
};

/** Collaborators of {@link createAnswerJudge}; the pipeline's own `step`, `emit` and generation. */
export type AnswerJudgeDeps<T extends JudgedTask> = {
  /** The embedder the answer's sentences go through. */
  embedder: Embedder;
  options?: ScoreOptions;
  /** Absent: never escalated. */
  escalation?: EscalationConfig | undefined;
  budget: Pick<Budget, 'reserve'>;
  metrics: Pick<Metrics, 'escalations'>;
  global: { dailyBudgetMicros: number };
  maxTokens: number;
  step: <T>(name: string, run: () => T | Promise<T>) => Promise<T>;
  emit: (task: T, event: QueryEvent) => Promise<void>;
  /** One streamed generation of the prompt through `chain`, with no cache step. */
  generate: (task: T, chain: FallbackChain, prompt: Prompt) => Promise<FallbackResult>;
};

/** The prompt an answer was generated from: its messages and the numbered sources in it. */
export type Prompt = { messages: ChatMessage[]; sources: RetrievedChunk[] };

/** What the judge reads of the question being answered. */
export type JudgedTask = {
  queryId: string;
  userId: string;
  dailyBudgetMicros: number;
  features?: Partial<Record<'qualityScoring' | 'escalation' | 'budgets', boolean>>;
};

/** The answer to record: the final generation and its score, and the first when escalated. */
export type Judgement = {
  final: FallbackResult;
  quality?: AnswerQuality | undefined;
  first?: { result: FallbackResult; quality: AnswerQuality; escalatedTo: string } | undefined;
};

/** The reservation id of a query's escalation (held apart from the query's own). */
export function escalationReservation(queryId: string): string {
  return `${queryId}:escalation`;
}

/**
 * The pipeline's score and escalate steps. `judge` scores a generated answer against the
 * sources its model was given (flag `quality_scoring`, on unless off), and, with the flag
 * `escalation` on (off unless on), answers again once with the stronger chain when a model other
 * than the escalation model wrote it (not the cache or the extractive answerer) and it scored
 * below the threshold: the escalation's worst case is reserved first under its own reservation
 * (refused: the first answer stands), then `restart` tells clients to drop the first tokens.
 */
export function createAnswerJudge<T extends JudgedTask>(deps: AnswerJudgeDeps<T>) {
  async function score(
    task: T,
    result: FallbackResult,
    given: RetrievedChunk[],
  ): Promise<AnswerQuality | undefined> {
    if (task.features?.qualityScoring === false) return undefined;
    return deps.step('score', () =>
      scoreAnswer(
        { answer: result.text, sources: given, truncated: result.truncated },
        { embedder: deps.embedder },
        deps.options ?? SCORE_DEFAULTS,
      ),
    );
  }

  function shouldEscalate(task: T, result: FallbackResult, quality: AnswerQuality): boolean {
    const escalation = deps.escalation;
    return (
      task.features?.escalation === true &&
      escalation !== undefined &&
      (result.fallback.source === 'primary' || result.fallback.source === 'secondary') &&
      result.model !== escalation.model &&
      quality.score < escalation.threshold
    );
  }

  async function escalate(
    task: T,
    escalation: EscalationConfig,
    firstQuality: AnswerQuality,
    prompt: Prompt & { promptTokens: number },
  ): Promise<FallbackResult | undefined> {
    if (task.features?.budgets !== false) {
      const held = await deps.step('reserve_budget', () =>
        deps.budget.reserve({
          userId: task.userId,
          queryId: escalationReservation(task.queryId),
          amountMicros: costMicros(escalation.worstCasePricing, {
            promptTokens: prompt.promptTokens,
            completionTokens: deps.maxTokens,
          }),
          userBudgetMicros: task.dailyBudgetMicros,
          globalBudgetMicros: deps.global.dailyBudgetMicros,
        }),
      );
      if (!held.ok) {
        deps.metrics.escalations.inc({ outcome: 'budget_refused' });
        return undefined;
      }
    }
    await deps.emit(task, {
      type: 'restart',
      reason: `quality score ${firstQuality.score} is below ${escalation.threshold}; ${escalation.model} answers again`,
    });
    const second = await deps.step('escalate', () => deps.generate(task, escalation.chain, prompt));
    deps.metrics.escalations.inc({ outcome: 'escalated' });
    return second;
  }

  return {
    /** Scores `result` (generated from `prompt`), escalating it when it must; see above. */
    async judge(
      task: T,
      result: FallbackResult,
      prompt: Prompt & { promptTokens: number },
    ): Promise<Judgement> {
      const quality = await score(task, result, prompt.sources);
      const escalation = deps.escalation;
      if (!quality || !escalation || !shouldEscalate(task, result, quality))
        return { final: result, quality };
      const second = await escalate(task, escalation, quality, prompt);
      if (!second) return { final: result, quality };
      return {
        final: second,
        quality: await score(task, second, prompt.sources),
        first: { result, quality, escalatedTo: escalation.model },
      };
    },
  };
}
