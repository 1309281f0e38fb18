import { type Span, withSpan } from '@assistant/telemetry';
import type { Breaker, BreakerLogger } from './circuit-breaker.ts';
import { LlmError, type LlmErrorKind, type LlmSkipReason } from './llm-error.ts';
import type {
  GenerateRequest,
  GenerateResult,
  LlmProvider,
  LlmProviderName,
  OnToken,
} from './llm-provider.ts';

/** One configured model and the breaker in front of it. */
export type FallbackLink = { provider: LlmProvider; breaker: Breaker };

/** Looks up an earlier answer to the same question; `undefined` on a miss. */
export type CachedAnswerLookup = (req: GenerateRequest) => Promise<GenerateResult | undefined>;

/** What the chain tries, in order. */
export type FallbackChainOptions = {
  /** Models in order of preference (primary first); each behind its own breaker. May be empty. */
  links: FallbackLink[];
  /** The offline answerer, the last resort (`createExtractiveProvider()`). */
  extractive: LlmProvider;
  /**
   * Deadline of one model call made without its breaker (`hooks.breakers: false`), which
   * otherwise enforces it. @defaultValue 30000
   */
  unguardedTimeoutMs?: number;
};

/** Collaborators of the chain. */
export type FallbackChainDeps = { logger?: BreakerLogger };

/** Where the answer came from: the first link, a later link, the answer cache, or the extractive answerer. */
export type FallbackSource = 'primary' | 'secondary' | 'cache' | 'extractive';

/** A configured model that did not produce the answer, and why. */
export type FallbackAttempt = {
  provider: LlmProviderName;
  model: string;
  /** `skipped`: refused locally, the provider was not called; `failed`: it was called and failed. */
  outcome: 'skipped' | 'failed';
  /** The skip reason, or the kind of the error. */
  reason: LlmSkipReason | LlmErrorKind;
  message: string;
  /** Tokens this model had passed to `onToken` before it failed (a restart discarded them). */
  tokensSent: number;
  retryAfterMs?: number;
};

/** How the chain reached its answer. */
export type FallbackReport = {
  source: FallbackSource;
  /** A configured model was skipped or failed (false when no model is configured at all). */
  usedFallback: boolean;
  /** Every configured model that did not produce the answer, in order. */
  attempts: FallbackAttempt[];
  /** How many times `onRestart` was called. */
  restarts: number;
};

/** A generation result that also says how it was reached. */
export type FallbackResult = GenerateResult & { fallback: FallbackReport };

/** Tells the caller that tokens it already received are void: the answer starts over. */
export type RestartNotice = {
  provider: LlmProviderName;
  model: string;
  reason: LlmErrorKind;
  message: string;
  /** Tokens passed to `onToken` by the failed model, which the client must discard. */
  discardedTokens: number;
};

/** Per-call hooks of the chain. */
export type FallbackHooks = {
  /**
   * Called when a model fails after it passed tokens to `onToken`, before anything else is
   * tried; awaited. Without it, such a failure is rethrown instead of falling back, because a
   * fallback answer would be spliced onto the tokens the client already has.
   */
  onRestart?: (notice: RestartNotice) => void | Promise<void>;
  /**
   * This question's earlier answer, consulted once every link failed or was skipped (before the
   * extractive answer); a thrown error counts as a miss. Per call: the chain itself is built
   * once per process and shared by every question.
   */
  cachedAnswer?: CachedAnswerLookup;
  /**
   * `false` calls each model without its breaker (the `breakers` flag off): an open breaker
   * does not skip it and its failures are not counted; the call keeps its deadline.
   * @defaultValue true
   */
  breakers?: boolean;
};

/** The multi-model fallback chain. */
export type FallbackChain = {
  /**
   * Streams an answer through `onToken` from the first source that gives one; only the
   * extractive answerer's own failure, a caller abort or an `onToken`/`onRestart` error rejects.
   */
  generate(req: GenerateRequest, onToken: OnToken, hooks?: FallbackHooks): Promise<FallbackResult>;
};

/**
 * Creates the fallback chain: each link behind its breaker in order, then the call's cached
 * answer (`hooks.cachedAnswer`), then the extractive answer (labelled `provider: 'extractive'`). Any failure of a link moves
 * on, `bad_request` included: the next model may accept what this one refused (the breaker
 * does not count it). A caller abort stops the chain.
 *
 * @example
 * const chain = createFallbackChain({ links: [{ provider: primary, breaker }], extractive: createExtractiveProvider() });
 * const result = await chain.generate(req, publishToken, { onRestart: publishRestart });
 * result.fallback.source; // 'primary' | 'secondary' | 'cache' | 'extractive'
 */
export function createFallbackChain(
  options: FallbackChainOptions,
  deps: FallbackChainDeps = {},
): FallbackChain {
  const { links, extractive } = options;
  const unguardedTimeoutMs = options.unguardedTimeoutMs ?? 30_000;

  /** One model call: through its breaker, or (breakers off) straight to the provider with its deadline. */
  function call(link: FallbackLink, req: GenerateRequest, onToken: OnToken, guarded: boolean) {
    if (guarded)
      return link.breaker.fire((signal) => link.provider.generate({ ...req, signal }, onToken), req.signal);
    const deadline = AbortSignal.timeout(unguardedTimeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    return link.provider.generate({ ...req, signal }, onToken);
  }

  async function lookUpCache(
    req: GenerateRequest,
    cachedAnswer: CachedAnswerLookup | undefined,
  ): Promise<GenerateResult | undefined> {
    if (!cachedAnswer) return undefined;
    try {
      return await cachedAnswer(req);
    } catch (error) {
      deps.logger?.warn({ err: error }, 'Cached answer lookup failed; treating it as a miss');
      return undefined;
    }
  }

  return {
    generate: async function generateWithFallback(req, onToken, hooks = {}): Promise<FallbackResult> {
      const attempts: FallbackAttempt[] = [];
      let restarts = 0;
      const report = (source: FallbackSource): FallbackReport => ({
        source,
        usedFallback: attempts.length > 0,
        attempts,
        restarts,
      });

      for (const [index, link] of links.entries()) {
        let tokensSent = 0;
        let consumerFailure: { error: unknown } | undefined;
        const linkOnToken: OnToken = async function forwardToken(token) {
          tokensSent++;
          try {
            await onToken(token);
          } catch (error) {
            consumerFailure = { error };
            throw error;
          }
        };
        try {
          const result = await attemptSpan(link, index, hooks.breakers !== false, async (span) => {
            const generated = await call(link, req, linkOnToken, hooks.breakers !== false);
            span.setAttributes({
              outcome: 'succeeded',
              prompt_tokens: generated.usage.promptTokens,
              completion_tokens: generated.usage.completionTokens,
            });
            return generated;
          });
          return { ...result, fallback: report(index === 0 ? 'primary' : 'secondary') };
        } catch (error) {
          if (consumerFailure) throw consumerFailure.error;
          if (req.signal?.aborted) throw error;
          const attempt = toAttempt(link, error, tokensSent);
          attempts.push(attempt);
          if (attempt.outcome === 'failed') {
            deps.logger?.warn(
              {
                provider: attempt.provider,
                model: attempt.model,
                reason: attempt.reason,
                tokensSent,
                err: error,
              },
              'LLM model failed; falling back',
            );
          }
          if (tokensSent > 0) {
            if (!hooks.onRestart) throw error;
            restarts++;
            await hooks.onRestart({
              provider: attempt.provider,
              model: attempt.model,
              reason: error instanceof LlmError ? error.kind : 'upstream_error',
              message: attempt.message,
              discardedTokens: tokensSent,
            });
          }
        }
      }

      const cached = !hooks.cachedAnswer
        ? undefined
        : await withSpan(
            'assistant.fallback',
            { attributes: { 'fallback.to': 'cache', 'cache.tier': 'exact' } },
            async (span) => {
              const hit = await lookUpCache(req, hooks.cachedAnswer);
              span.setAttribute('cache.hit', hit !== undefined);
              return hit;
            },
          );
      if (cached) {
        if (cached.text.length > 0) await onToken(cached.text);
        // No tokens were spent on this answer: a cache hit must not be charged again.
        return { ...cached, usage: { promptTokens: 0, completionTokens: 0 }, fallback: report('cache') };
      }
      const answer = await withSpan(
        'assistant.fallback',
        { attributes: { 'fallback.to': 'extractive', provider: extractive.name, model: extractive.model } },
        () => extractive.generate(req, onToken),
      );
      return { ...answer, fallback: report('extractive') };
    },
  };
}

/**
 * One model call in its span, `assistant.llm_attempt`: which model, its breaker's state before the
 * call, and what came of it (`succeeded`, or the attempt's outcome and reason when it threw).
 */
function attemptSpan<T>(
  link: FallbackLink,
  index: number,
  guarded: boolean,
  run: (span: Span) => Promise<T>,
): Promise<T> {
  return withSpan(
    'assistant.llm_attempt',
    {
      kind: 'client',
      attributes: {
        provider: link.provider.name,
        model: link.provider.model,
        // 0 is the primary; any later link is a fallback.
        'llm.link': index,
        fallback: index > 0,
        'breaker.state': guarded ? link.breaker.state() : 'bypassed',
      },
    },
    async (span) => {
      try {
        return await run(span);
      } catch (error) {
        const attempt = toAttempt(link, error, 0);
        span.setAttributes({ outcome: attempt.outcome, reason: attempt.reason });
        throw error;
      }
    },
  );
}

function toAttempt(link: FallbackLink, error: unknown, tokensSent: number): FallbackAttempt {
  const who = { provider: link.provider.name, model: link.provider.model, tokensSent };
  if (!(error instanceof LlmError)) {
    // Providers throw only LlmError; anything else is a bug in one, and another model may still answer.
    return { ...who, outcome: 'failed', reason: 'upstream_error', message: String(error) };
  }
  return {
    ...who,
    outcome: error.skipped ? 'skipped' : 'failed',
    reason: error.skipped ?? error.kind,
    message: error.message,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  };
}
