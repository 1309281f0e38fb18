import { buildExtractiveAnswer, type ExtractiveOptions } from './extractive-answer.ts';
import { LlmError } from './llm-error.ts';
import type { GenerateResult, LlmProvider } from './llm-provider.ts';

/**
 * Creates the offline answerer: no network, no model, the last link of every fallback chain.
 * It streams `buildExtractiveAnswer` word by word and counts words as tokens; the answer is
 * cut at `maxTokens` words like a model's would be (`finishReason: 'length'`).
 */
export function createExtractiveProvider(options: ExtractiveOptions = {}): LlmProvider {
  const failure = { provider: 'extractive', model: 'extractive', retryable: false } as const;
  return {
    name: 'extractive',
    model: 'extractive',
    generate: async function generateExtractive(req, onToken): Promise<GenerateResult> {
      const words = buildExtractiveAnswer(req.query, req.sources, options).split(' ');
      const tokens = words
        .slice(0, Math.max(1, req.maxTokens))
        .map((word, i) => (i === 0 ? word : ` ${word}`));
      for (const token of tokens) {
        if (req.signal?.aborted) throw new LlmError('aborted', 'The generation was aborted.', failure);
        await onToken(token);
      }
      const promptText = [req.query, ...req.sources.map((source) => source.text)].join(' ');
      const truncated = tokens.length < words.length;
      return {
        text: tokens.join(''),
        provider: 'extractive',
        model: 'extractive',
        usage: { promptTokens: countWords(promptText), completionTokens: tokens.length },
        finishReason: truncated ? 'length' : 'stop',
        truncated,
      };
    },
  };
}

function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}
