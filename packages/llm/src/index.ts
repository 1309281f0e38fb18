export { type ChatCompletionSpec, createChatCompletionProvider } from './chat-completion-provider.ts';
export {
  buildExtractiveAnswer,
  contentTerms,
  type ExtractiveOptions,
  NO_SOURCES_ANSWER,
  splitSentences,
} from './extractive-answer.ts';
export { createExtractiveProvider } from './extractive-provider.ts';
export { LlmError, type LlmErrorDetails, type LlmErrorKind } from './llm-error.ts';
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
export { createLlmProvider, providerTable } from './provider-table.ts';
export { estimatePromptTokens, estimateTokens } from './usage-estimate.ts';
