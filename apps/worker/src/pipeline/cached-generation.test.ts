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
  const settingsSeen: unknown[] = [];
  const cachedGeneration = createCachedGeneration({
    answerCache: {
      get: async (lookup) => {
        looked.push(lookup.query);
        settingsSeen.push(lookup.settings);
        return hit;
      },
    },
    notes: { versions: async () => new Map() },
    settings: { provider: 'endpoint', model: 'primary-model', prompt: 'v1' },
  });
  const state = { userId: 'u1' } as Parameters<typeof cachedGeneration>[0]['state'];
  return {
    looked,
    settingsSeen,
    ask: (settings?: { provider: string; model: string; prompt: string }) =>
      cachedGeneration({ state, query: 'How often?', ...(settings ? { settings } : {}) }),
  };
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

  it("looks up under the question's own settings when given (its variant's model and prompt)", async () => {
    const over = generationOver(hitOf('endpoint'));
    await over.ask();
    await over.ask({ provider: 'endpoint', model: 'variant-model', prompt: 'answer@2' });
    expect(over.settingsSeen).toEqual([
      { provider: 'endpoint', model: 'primary-model', prompt: 'v1' },
      { provider: 'endpoint', model: 'variant-model', prompt: 'answer@2' },
    ]);
  });

  it('is a miss on a miss', async () => {
    expect(await generationOver(undefined).ask()).toBeUndefined();
  });
});
