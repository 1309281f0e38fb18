import { describe, expect, it } from 'vitest';
import { NO_SOURCES_ANSWER } from './extractive-answer.ts';
import { createExtractiveProvider } from './extractive-provider.ts';
import { LlmError } from './llm-error.ts';
import type { GenerateRequest } from './llm-provider.ts';

const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: 'user', content: 'When do I water tomatoes?' }],
  query: 'When do I water tomatoes?',
  sources: [
    { noteId: 'n1', title: 'Garden', text: 'Water tomatoes at dawn. Basil likes shade.', score: 0.9 },
  ],
  maxTokens: 100,
  ...over,
});

describe('extractive provider', () => {
  it('streams the cited answer word by word and counts words as tokens', async () => {
    const tokens: string[] = [];
    const result = await createExtractiveProvider().generate(request(), (token) => {
      tokens.push(token);
    });
    expect(tokens).toEqual(['From', ' your', ' notes:', ' Water', ' tomatoes', ' at', ' dawn.', ' [1]']);
    expect(result).toEqual({
      text: 'From your notes: Water tomatoes at dawn. [1]',
      provider: 'extractive',
      model: 'extractive',
      usage: { promptTokens: 12, completionTokens: 8 },
      finishReason: 'stop',
      truncated: false,
    });
  });

  it('says it found nothing when there are no sources', async () => {
    const result = await createExtractiveProvider().generate(request({ sources: [] }), () => {});
    expect(result.text).toBe(NO_SOURCES_ANSWER);
    expect(result.usage.completionTokens).toBe(NO_SOURCES_ANSWER.split(' ').length);
  });

  it('cuts the answer at maxTokens words', async () => {
    const result = await createExtractiveProvider().generate(request({ maxTokens: 3 }), () => {});
    expect(result).toMatchObject({ text: 'From your notes:', finishReason: 'length', truncated: true });
  });

  it('stops with an aborted LlmError once the signal aborts', async () => {
    const controller = new AbortController();
    const tokens: string[] = [];
    const run = createExtractiveProvider().generate(request({ signal: controller.signal }), (token) => {
      tokens.push(token);
      if (tokens.length === 2) controller.abort();
    });
    await expect(run).rejects.toMatchObject({ kind: 'aborted', retryable: false });
    await expect(run).rejects.toBeInstanceOf(LlmError);
    expect(tokens).toHaveLength(2);
  });
});
