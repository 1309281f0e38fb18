/** Every cache tier, in the order a question meets them. Pre-register metric labels from this. */
export const CACHE_TIERS = ['exact', 'semantic', 'embedding', 'context'] as const;

/** One of {@link CACHE_TIERS}. */
export type CacheTier = (typeof CACHE_TIERS)[number];

/** Every outcome a tier reports: a lookup that hit, one that missed, a value written. */
export const CACHE_OUTCOMES = ['hit', 'miss', 'store'] as const;

/** One of {@link CACHE_OUTCOMES}. */
export type CacheOutcome = (typeof CACHE_OUTCOMES)[number];

/**
 * Called once per item looked up or stored (a `getMany` of ten texts reports ten events), so a
 * plain `counter.inc({ tier, outcome })` counts correctly.
 *
 * @example
 * const onCacheEvent: OnCacheEvent = (tier, outcome) => metrics.cacheEvents.inc({ tier, outcome });
 */
export type OnCacheEvent = (tier: CacheTier, outcome: CacheOutcome) => void;

/** Collaborators every cache factory accepts. */
export type CacheDeps = {
  /** Receives hits, misses and stores. @defaultValue ignores them */
  onCacheEvent?: OnCacheEvent;
  /** Milliseconds since the epoch, for `createdAt`. @defaultValue `Date.now` */
  now?: () => number;
};

/** The default {@link OnCacheEvent}: counts nothing. */
export function ignoreCacheEvent(): void {}
