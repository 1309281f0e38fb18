import { describe, expect, it } from 'vitest';
import { createModelLinks, llmProviderNameOf, worstCasePricing } from './model-links.ts';

const config = {
  provider: 'endpoint' as const,
  model: 'primary-model',
  fallbackModel: 'secondary-model',
  endpointUrl: 'http://127.0.0.1:9/v1',
  timeoutMs: 1_000,
  breaker: { failures: 3, windowMs: 10_000, openMs: 5_000 },
};

describe('createModelLinks', () => {
  it('builds one provider and one breaker per configured model, primary first', () => {
    const states: string[] = [];
    const models = createModelLinks(config, {
      onStateChange: (name, state) => states.push(`${name}=${state}`),
    });
    try {
      expect(models.links.map((l) => l.provider.model)).toEqual(['primary-model', 'secondary-model']);
      expect(states).toEqual(['endpoint:primary-model=closed', 'endpoint:secondary-model=closed']);
    } finally {
      models.close();
    }
  });

  it('builds no link for the extractive provider', () => {
    const models = createModelLinks({ ...config, provider: 'extractive', fallbackModel: undefined });
    expect(models.links).toEqual([]);
    models.close();
  });
});

describe('worstCasePricing', () => {
  it('takes the highest input and output price separately, and is free with no links', () => {
    const models = createModelLinks(config);
    const prices: Record<string, { inputNanosPerToken: number; outputNanosPerToken: number }> = {
      'primary-model': { inputNanosPerToken: 5, outputNanosPerToken: 1 },
      'secondary-model': { inputNanosPerToken: 2, outputNanosPerToken: 9 },
    };
    try {
      expect(worstCasePricing(models.links, (m) => prices[m]!)).toEqual({
        inputNanosPerToken: 5,
        outputNanosPerToken: 9,
      });
      expect(worstCasePricing([], (m) => prices[m]!)).toEqual({
        inputNanosPerToken: 0,
        outputNanosPerToken: 0,
      });
    } finally {
      models.close();
    }
  });
});

describe('llmProviderNameOf', () => {
  it('knows the provider names and nothing else', () => {
    expect(llmProviderNameOf('endpoint')).toBe('endpoint');
    expect(llmProviderNameOf('extractive')).toBe('extractive');
    expect(llmProviderNameOf('openai')).toBeUndefined();
  });
});
