import { type ChatCompletionSpec, createChatCompletionProvider } from './chat-completion-provider.ts';
import { createExtractiveProvider } from './extractive-provider.ts';
import type { LlmConfig, LlmDeps, LlmProvider, LlmProviderName } from './llm-provider.ts';

/**
 * Hugging Face Inference Providers: no endpointUrl, so the client routes `model` through
 * router.huggingface.co (provider "auto"; a `model:provider` suffix pins one). Needs an
 * `hf_…` token: the client refuses the auto-router with any other key.
 */
const hfSpec: ChatCompletionSpec = {
  name: 'hf',
  requires: ['hfToken'],
  client: (config) => ({ accessToken: config.hfToken ?? '' }),
};

/**
 * Any OpenAI-compatible server (TGI, vLLM, llama.cpp, Ollama). The client posts to
 * `endpointUrl` + `/chat/completions` when the URL ends in `/v1`, + `/v1/chat/completions`
 * otherwise, and sends `model` in the body; the token is optional.
 */
const endpointSpec: ChatCompletionSpec = {
  name: 'endpoint',
  requires: ['endpointUrl'],
  client: (config) => ({ accessToken: config.hfToken ?? '', endpointUrl: config.endpointUrl }),
};

/** One row per provider kind: how to build it from its config. */
export const providerTable: Record<LlmProviderName, (config: LlmConfig, deps: LlmDeps) => LlmProvider> = {
  hf: (config, deps) => createChatCompletionProvider(hfSpec, config, deps),
  endpoint: (config, deps) => createChatCompletionProvider(endpointSpec, config, deps),
  extractive: () => createExtractiveProvider(),
};

/**
 * Builds the provider `config.provider` names.
 *
 * @throws Error when the config lacks what the provider needs (checked once, at startup).
 * @example
 * const llm = createLlmProvider({ provider: 'endpoint', model: 'qwen2.5', endpointUrl: 'http://localhost:8080/v1', timeoutMs: 30_000 });
 * const result = await llm.generate(request, (token) => events.append(token));
 */
export function createLlmProvider(config: LlmConfig, deps: LlmDeps = {}): LlmProvider {
  const build = providerTable[config.provider];
  if (!build) throw new Error(`Unknown LLM provider "${String(config.provider)}"`);
  return build(config, deps);
}
