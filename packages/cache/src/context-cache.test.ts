import { describe, expect, it } from 'vitest';
import type { CacheOutcome, CacheTier } from './cache-events.ts';
import { createContextCache } from './context-cache.ts';

describe('createContextCache', () => {
  it('forgets a context once its time-to-live has passed', () => {
    let clock = 1_000;
    const contexts = createContextCache({ ttlMs: 60_000, now: () => clock });
    contexts.set('a', 'context a');
    clock += 60_000;
    expect(contexts.get('a')).toBe('context a');
    clock += 1;
    expect(contexts.get('a')).toBeUndefined();
    expect(contexts.size).toBe(0);
  });

  it('keeps contexts for an hour by default', () => {
    let clock = 5_000;
    const contexts = createContextCache({ now: () => clock });
    contexts.set('a', 'context a');
    clock += 60 * 60 * 1000;
    expect(contexts.get('a')).toBe('context a');
    clock += 1;
    expect(contexts.get('a')).toBeUndefined();
  });

  it('evicts the least recently used contexts once the bytes exceed the bound', () => {
    // Key "a" + 99 chars of value = 100 UTF-16 units = 200 bytes per entry.
    const contexts = createContextCache({ maxBytes: 600 });
    const value = (c: string) => c.repeat(99);
    contexts.set('a', value('a'));
    contexts.set('b', value('b'));
    contexts.set('c', value('c'));
    expect(contexts.bytes).toBe(600);
    expect(contexts.get('a')).toBe(value('a')); // now "b" is the least recently used
    contexts.set('d', value('d'));
    expect(contexts.get('b')).toBeUndefined();
    expect(contexts.get('a')).toBe(value('a'));
    expect(contexts.get('d')).toBe(value('d'));
    expect(contexts.size).toBe(3);
    expect(contexts.bytes).toBeLessThanOrEqual(600);
  });

  it('evicts several small contexts to fit one large one', () => {
    const contexts = createContextCache({ maxBytes: 1000 });
    for (const key of ['k1', 'k2', 'k3', 'k4']) contexts.set(key, 'x'.repeat(98)); // 200 bytes each
    contexts.set('big', 'y'.repeat(397)); // 800 bytes
    expect(contexts.get('big')).toBeDefined();
    expect(contexts.get('k4')).toBeDefined();
    expect(['k1', 'k2', 'k3'].map((k) => contexts.get(k))).toEqual([undefined, undefined, undefined]);
  });

  it('refuses a context larger than the bound and keeps the others', () => {
    const contexts = createContextCache({ maxBytes: 100 });
    contexts.set('small', 'x');
    expect(contexts.set('huge', 'x'.repeat(100))).toBe(false);
    expect(contexts.get('huge')).toBeUndefined();
    expect(contexts.get('small')).toBe('x');
  });

  it('sizes objects by a caller function and reports hits, misses and stores', () => {
    const events: [CacheTier, CacheOutcome][] = [];
    const contexts = createContextCache<{ text: string; tokens: number }>(
      { maxBytes: 10, sizeOf: (value) => value.tokens },
      { onCacheEvent: (tier, outcome) => events.push([tier, outcome]) },
    );
    contexts.set('q1', { text: 'ctx', tokens: 6 });
    contexts.set('q2', { text: 'ctx', tokens: 6 });
    expect(contexts.get('q1')).toBeUndefined();
    expect(contexts.get('q2')).toEqual({ text: 'ctx', tokens: 6 });
    expect(events).toEqual([
      ['context', 'store'],
      ['context', 'store'],
      ['context', 'miss'],
      ['context', 'hit'],
    ]);
  });
});
