import type { CachedAnswer } from '@assistant/cache';
import { describe, expect, it } from 'vitest';
import { createCachedGeneration } from './cached-generation.ts';

const hitOf = (provider: string) =>
  ({
    answer: 'Twice a week.',
    provider,
    model: 'primary-model',
    truncated: false,
    cache: 'exact',
  }) as unknown as CachedAnswer & { cache: 'exact' };

function generationOver(hit: (CachedAnswer & { cache: 'exact' }) | undefined) {
  const looked: string[] = [];
  const cachedGeneration = createCachedGeneration({
    answerCache: {
      get: async (lookup) => {
        looked.push(lookup.query);
        return hit;
      },
    },
    notes: { versions: async () => new Map() },
    settings: { provider: 'endpoint', model: 'primary-model', prompt: 'v1' },
  });
  const state = { userId: 'u1' } as Parameters<typeof cachedGeneration>[0]['state'];
  return { looked, ask: () => cachedGeneration({ state, query: 'How often?' }) };
}

describe('createCachedGeneration', () => {
  it('turns a hit into a free generation result of the stored provider', async () => {
    const { looked, ask } = generationOver(hitOf('endpoint'));
    expect(await ask()).toEqual({
      text: 'Twice a week.',
      provider: 'endpoint',
      model: 'primary-model',
      usage: { promptTokens: 0, completionTokens: 0 },
      finishReason: 'stop',
      truncated: false,
    });
    expect(looked).toEqual(['How often?']);
  });

  it('treats a stored provider no provider is named any more as a miss (it was cast before)', async () => {
    expect(await generationOver(hitOf('retired-provider')).ask()).toBeUndefined();
  });

  it('is a miss on a miss', async () => {
    expect(await generationOver(undefined).ask()).toBeUndefined();
  });
});
