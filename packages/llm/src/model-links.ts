import { type Breaker, type BreakerDeps, createBreaker } from './circuit-breaker.ts';
import type { FallbackLink } from './fallback-chain.ts';
import type { LlmConfig, LlmProviderName } from './llm-provider.ts';
import { createLlmProvider } from './provider-table.ts';

/** Price of a model per token, in integer nano-dollars. */
export type ModelPricing = { inputNanosPerToken: number; outputNanosPerToken: number };

/** The configured models (the validated `llm` section of the config). */
export type ModelLinksConfig = LlmConfig & {
  /** Tried when `model` fails or its breaker is open; same provider. */
  fallbackModel?: string | undefined;
  timeoutMs: number;
  breaker: { failures: number; windowMs: number; openMs: number };
};

/** The fallback chain's links and their breakers, one per configured model. */
export type ModelLinks = {
  /** Primary first, then the fallback model; empty for the `extractive` provider. */
  links: FallbackLink[];
  /** Stops every breaker's timers (on shutdown). */
  close(): void;
};

/**
 * Builds a provider and its breaker for each configured model (primary, then fallback): once
 * per process, so every job shares the breakers' state.
 *
 * @example
 * const models = createModelLinks(config.llm, { onStateChange, onEvent, logger });
 * const chain = createFallbackChain({ links: models.links, extractive: createExtractiveProvider() });
 */
export function createModelLinks(llm: ModelLinksConfig, deps: BreakerDeps = {}): ModelLinks {
  const breakers: Breaker[] = [];
  const links: FallbackLink[] = [];
  if (llm.provider !== 'extractive') {
    for (const model of [llm.model, ...(llm.fallbackModel ? [llm.fallbackModel] : [])]) {
      const breaker = createBreaker(
        {
          provider: llm.provider,
          model,
          failureThreshold: llm.breaker.failures,
          failureWindowMs: llm.breaker.windowMs,
          resetTimeoutMs: llm.breaker.openMs,
          timeoutMs: llm.timeoutMs,
        },
        deps,
      );
      breakers.push(breaker);
      links.push({ provider: createLlmProvider({ ...llm, model }), breaker });
    }
  }
  return {
    links,
    close: function closeBreakers() {
      for (const breaker of breakers) breaker.close();
    },
  };
}

/**
 * The highest input and output price among the links' models (each side on its own): what a
 * budget reservation assumes before it knows which model will answer. Free with no links.
 */
export function worstCasePricing(
  links: FallbackLink[],
  pricing: (model: string) => ModelPricing,
): ModelPricing {
  return links.reduce(
    (worst, link) => {
      const p = pricing(link.provider.model);
      return {
        inputNanosPerToken: Math.max(worst.inputNanosPerToken, p.inputNanosPerToken),
        outputNanosPerToken: Math.max(worst.outputNanosPerToken, p.outputNanosPerToken),
      };
    },
    { inputNanosPerToken: 0, outputNanosPerToken: 0 },
  );
}

const PROVIDER_NAMES: readonly LlmProviderName[] = ['hf', 'endpoint', 'extractive'];

/** `name` as a provider name, or `undefined` if no provider is called that (e.g. a stored value). */
export function llmProviderNameOf(name: string): LlmProviderName | undefined {
  return PROVIDER_NAMES.find((known) => known === name);
}
