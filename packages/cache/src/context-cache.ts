import { LRUCache } from 'lru-cache';
import type { OnCacheEvent } from './cache-events.ts';
import { ignoreCacheEvent } from './cache-events.ts';

/** Tunables of {@link createContextCache}. */
export type ContextCacheOptions<V> = {
  /** Upper bound of the cached contexts' estimated size. @defaultValue 104857600 (100 MB) */
  maxBytes?: number;
  /**
   * Estimated bytes an entry holds. @defaultValue two bytes per UTF-16 code unit of the key and
   * of the value (a string, else its JSON), the upper bound of what V8 keeps for a string
   */
  sizeOf?: (value: V, key: string) => number;
  /** How long a context stays usable after it was stored, in ms. @defaultValue 3600000 (1 h) */
  ttlMs?: number;
  /** The clock (ms) the time-to-live is measured on. @defaultValue `performance.now` */
  now?: () => number;
};

function defaultSizeOf(value: unknown, key: string): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return 2 * (key.length + (text?.length ?? 0));
}

/**
 * An in-process LRU of assembled contexts, bounded by bytes rather than entries (contexts vary
 * from a few hundred bytes to hundreds of KB) and by age (the product plan's 1 h). Keys are the
 * caller's: include everything the context depends on (user, generation, chunk ids, token
 * budget). A value larger than the bound is not cached.
 *
 * @example
 * const contexts = createContextCache<string>({ maxBytes: 100 * 1024 * 1024 });
 * const context = contexts.get(key) ?? buildAndRemember(key);
 */
export function createContextCache<V extends {} = string>(
  options: ContextCacheOptions<V> = {},
  deps: { onCacheEvent?: OnCacheEvent } = {},
) {
  const sizeOf = options.sizeOf ?? defaultSizeOf;
  const onCacheEvent = deps.onCacheEvent ?? ignoreCacheEvent;
  const now = options.now;
  const lru = new LRUCache<string, V>({
    maxSize: options.maxBytes ?? 100 * 1024 * 1024,
    ttl: options.ttlMs ?? 60 * 60 * 1000,
    // Expired entries are dropped when read (no timer per entry); a stale one still counts
    // against maxSize until then, and LRU eviction removes it first anyway.
    ttlAutopurge: false,
    // Read the clock on every check, so an injected clock is exact (the default caches it per tick).
    ttlResolution: 0,
    ...(now ? { perf: { now } } : {}),
    // lru-cache needs a positive integer per entry.
    sizeCalculation: (value, key) => Math.max(1, Math.ceil(sizeOf(value, key))),
  });
  return {
    /** The context under `key` (and marks it recently used), or `undefined`. */
    get(key: string): V | undefined {
      const value = lru.get(key);
      onCacheEvent('context', value === undefined ? 'miss' : 'hit');
      return value;
    },
    /** Caches a context, evicting the least recently used ones to fit; false when it is too big. */
    set(key: string, value: V): boolean {
      lru.set(key, value);
      const stored = lru.has(key);
      if (stored) onCacheEvent('context', 'store');
      return stored;
    },
    /** Drops one context. */
    delete(key: string): void {
      lru.delete(key);
    },
    /** Drops every context. */
    clear(): void {
      lru.clear();
    },
    /** Estimated bytes held now. */
    get bytes(): number {
      return lru.calculatedSize;
    },
    /** Contexts held now. */
    get size(): number {
      return lru.size;
    },
  };
}

/** The context cache's interface. */
export type ContextCache<V extends {} = string> = ReturnType<typeof createContextCache<V>>;
