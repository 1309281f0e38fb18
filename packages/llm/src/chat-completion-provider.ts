import { InferenceClient } from '@huggingface/inference';
import { toLlmError } from './classify-error.ts';
import { LlmError } from './llm-error.ts';
import type { GenerateResult, LlmConfig, LlmDeps, LlmProvider, LlmUsage, OnToken } from './llm-provider.ts';
import { createResponseProbe } from './response-probe.ts';
import { estimatePromptTokens } from './usage-estimate.ts';

/**
 * How to reach one kind of OpenAI-style chat completion server through
 * `@huggingface/inference`: a row of the provider table, not a branch in the code.
 */
export type ChatCompletionSpec = {
  name: 'hf' | 'endpoint';
  /** Config fields this provider cannot work without. */
  requires: ReadonlyArray<'hfToken' | 'endpointUrl'>;
  /** Arguments of `new InferenceClient(accessToken, { endpointUrl })`. */
  client(config: LlmConfig): { accessToken: string; endpointUrl?: string };
};

/**
 * Creates a provider that streams from a chat completion server described by `spec`.
 *
 * Per call it sends `stream_options.include_usage`, passes `retry_on_error: false` (the
 * client otherwise re-sends a 503 forever), and one signal that fires on the caller's abort,
 * on `timeoutMs`, and once the call is over (so an unread rest of the body is released).
 */
export function createChatCompletionProvider(
  spec: ChatCompletionSpec,
  config: LlmConfig,
  deps: LlmDeps = {},
): LlmProvider {
  const missing = spec.requires.filter((field) => !config[field]);
  if (missing.length > 0)
    throw new Error(`LLM provider "${spec.name}" needs ${missing.join(' and ')} in its config`);
  if (!(config.timeoutMs > 0)) throw new Error(`LLM provider "${spec.name}" needs a positive timeoutMs`);

  const { accessToken, endpointUrl } = spec.client(config);
  const client = new InferenceClient(accessToken, endpointUrl ? { endpointUrl } : {});
  const baseFetch = deps.fetch ?? globalThis.fetch;
  const now = deps.now ?? Date.now;

  return {
    name: spec.name,
    model: config.model,
    generate: async function generate(req, onToken: OnToken): Promise<GenerateResult> {
      const failure = { provider: spec.name, model: config.model };
      if (req.signal?.aborted) {
        throw new LlmError('aborted', 'The generation was aborted.', { ...failure, retryable: false });
      }
      const probe = createResponseProbe(baseFetch);
      const deadline = new AbortController();
      const finished = new AbortController();
      const timer = setTimeout(() => deadline.abort(new Error('LLM timeout')), config.timeoutMs);
      const signal = AbortSignal.any([deadline.signal, finished.signal, ...(req.signal ? [req.signal] : [])]);

      let text = '';
      let deltas = 0;
      let finishReason: string | null = null;
      let usage: LlmUsage | undefined;
      let consumerError: { error: unknown } | undefined;
      try {
        const stream = client.chatCompletionStream(
          {
            model: config.model,
            messages: req.messages,
            max_tokens: req.maxTokens,
            ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
            stream_options: { include_usage: true },
          },
          { signal, fetch: probe.fetch, retry_on_error: false },
        );
        for await (const chunk of stream) {
          if (chunk.usage) {
            usage = {
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
            };
          }
          const choice = chunk.choices?.[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          const token = choice?.delta?.content;
          if (!token) continue;
          text += token;
          deltas++;
          try {
            await onToken(token);
          } catch (error) {
            consumerError = { error };
            throw error;
          }
        }
        if (!probe.sawDone()) {
          throw new LlmError('truncated', 'The LLM stream ended without [DONE]; the answer is incomplete.', {
            ...failure,
            retryable: true,
            status: probe.status(),
          });
        }
      } catch (error) {
        if (consumerError) throw consumerError.error;
        throw toLlmError(error, {
          ...failure,
          probe,
          timedOut: deadline.signal.aborted,
          callerAborted: req.signal?.aborted ?? false,
          now: now(),
        });
      } finally {
        clearTimeout(timer);
        finished.abort();
      }

      return {
        text,
        provider: spec.name,
        model: config.model,
        // Without a usage chunk: estimate the prompt, and count one token per content delta,
        // which is how TGI, vLLM and llama.cpp stream.
        usage: usage ?? { promptTokens: estimatePromptTokens(req.messages), completionTokens: deltas },
        finishReason,
        truncated: finishReason === 'length',
      };
    },
  };
}
