export type { BreakerEvent } from './breaker-outcome.ts';
export { type ChatCompletionSpec, createChatCompletionProvider } from './chat-completion-provider.ts';
export {
  type Breaker,
  type BreakerDeps,
  type BreakerLogger,
  type BreakerOptions,
  type BreakerState,
  createBreaker,
  type GuardedCall,
} from './circuit-breaker.ts';
export {
  buildExtractiveAnswer,
  contentTerms,
  type ExtractiveOptions,
  NO_MATCHING_SENTENCE_ANSWER,
  NO_SOURCES_ANSWER,
  splitSentences,
} from './extractive-answer.ts';
export { createExtractiveProvider } from './extractive-provider.ts';
export {
  type CachedAnswerLookup,
  createFallbackChain,
  type FallbackAttempt,
  type FallbackChain,
  type FallbackChainDeps,
  type FallbackChainOptions,
  type FallbackHooks,
  type FallbackLink,
  type FallbackReport,
  type FallbackResult,
  type FallbackSource,
  type RestartNotice,
} from './fallback-chain.ts';
export { LlmError, type LlmErrorDetails, type LlmErrorKind, type LlmSkipReason } from './llm-error.ts';
export type {
  ChatMessage,
  GenerateRequest,
  GenerateResult,
  LlmConfig,
  LlmDeps,
  LlmProvider,
  LlmProviderName,
  LlmUsage,
  OnToken,
  SourceText,
} from './llm-provider.ts';
export {
  createModelLinks,
  llmProviderNameOf,
  type ModelLinks,
  type ModelLinksConfig,
  type ModelPricing,
  worstCasePricing,
} from './model-links.ts';
export { createLlmProvider, providerTable } from './provider-table.ts';
export { estimatePromptTokens, estimateTokens } from './usage-estimate.ts';
