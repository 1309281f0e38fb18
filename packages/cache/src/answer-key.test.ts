import { describe, expect, it } from 'vitest';
import { answerCacheKeyParts, semanticScope } from './answer-key.ts';
import type { CacheState } from './cache-epochs.ts';

const state: CacheState = {
  userId: 'u1',
  tier: 'free',
  generation: 3,
  epochs: { global: 0, tier: 0, user: 0 },
};
const settings = { model: 'm-8b', promptVariant: 'v1' };

function hashOf(
  changes: Partial<CacheState> = {},
  query = 'what is my wifi password',
  s: object = settings,
): string {
  return answerCacheKeyParts({ state: { ...state, ...changes }, query, settings: s as typeof settings }).hash;
}

describe('answerCacheKeyParts', () => {
  it('gives the same hash for questions that differ only in case, spacing and trailing punctuation', () => {
    expect(hashOf({}, '  What is my WIFI   password?? ')).toBe(hashOf());
  });

  it('ignores the order of settings keys', () => {
    expect(hashOf({}, undefined, { promptVariant: 'v1', model: 'm-8b' })).toBe(hashOf());
  });

  it('changes with the user, generation, tier, every epoch, the question and the settings', () => {
    const hashes = [
      hashOf(),
      hashOf({ userId: 'u2' }),
      hashOf({ generation: 4 }),
      hashOf({ tier: 'premium' }),
      hashOf({ epochs: { global: 1, tier: 0, user: 0 } }),
      hashOf({ epochs: { global: 0, tier: 1, user: 0 } }),
      hashOf({ epochs: { global: 0, tier: 0, user: 1 } }),
      hashOf({}, 'what is my bank password'),
      hashOf({}, undefined, { ...settings, promptVariant: 'v2' }),
    ];
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it('changes with the prompt template version and with the routing table of the settings', () => {
    const served = { provider: 'endpoint', model: 'big', prompt: 'answer@1', routing: null };
    const routing = { simple: 'small', complex: 'big', complexMinWords: 18, complexMinNotes: 0 };
    const hashes = [
      hashOf({}, undefined, served),
      hashOf({}, undefined, { ...served, prompt: 'answer@2' }),
      hashOf({}, undefined, { ...served, routing }),
      hashOf({}, undefined, { ...served, routing: { ...routing, simple: 'tiny' } }),
    ];
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it('returns the user, generation and normalized question beside the hash', () => {
    const parts = answerCacheKeyParts({ state, query: 'Hello?', settings });
    expect(parts).toEqual({
      userId: 'u1',
      generation: 3,
      normalizedQuery: 'hello',
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });
});

describe('semanticScope', () => {
  it('changes with epochs, tier and settings but not with the generation (which is in the key)', () => {
    const base = semanticScope(state, settings);
    expect(semanticScope({ ...state, generation: 9 }, settings)).toBe(base);
    expect(semanticScope({ ...state, epochs: { global: 0, tier: 0, user: 1 } }, settings)).not.toBe(base);
    expect(semanticScope({ ...state, tier: 'internal' }, settings)).not.toBe(base);
    expect(semanticScope(state, { model: 'other' })).not.toBe(base);
  });
});
