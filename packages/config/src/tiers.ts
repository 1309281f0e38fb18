import type { Tier } from '@assistant/contracts';
import { z } from 'zod';

/** One tier's limits: a row, not a branch. Money in integer micro-dollars. */
export const TierLimits = z.strictObject({
  /** Queries admitted per rolling minute. */
  perMinute: z.number().int().nonnegative(),
  /** Queries admitted per rolling hour. */
  perHour: z.number().int().nonnegative(),
  /** Queries admitted per rolling day. */
  perDay: z.number().int().nonnegative(),
  /** LLM spend allowed per UTC day, micro-dollars. */
  dailyBudgetMicros: z.number().int().nonnegative(),
  /** Queries queued or running at once (refused at admission above it). */
  maxInFlight: z.number().int().positive(),
  /** Queries running at once in the workers (held back, not failed, above it). */
  maxRunning: z.number().int().positive(),
});
export type TierLimits = z.infer<typeof TierLimits>;

/** Tier names: the contracts' `Tier`, their one source. */
export type TierName = Tier;

/** Limits by tier, from the product plan (free) and our call (premium, internal). */
export const defaultTiers: Record<TierName, TierLimits> = {
  free: {
    perMinute: 10,
    perHour: 100,
    perDay: 500,
    dailyBudgetMicros: 5_000_000,
    maxInFlight: 5,
    maxRunning: 2,
  },
  premium: {
    perMinute: 60,
    perHour: 1_000,
    perDay: 5_000,
    dailyBudgetMicros: 50_000_000,
    maxInFlight: 20,
    maxRunning: 5,
  },
  internal: {
    perMinute: 600,
    perHour: 10_000,
    perDay: 100_000,
    dailyBudgetMicros: 500_000_000,
    maxInFlight: 100,
    maxRunning: 20,
  },
};

/** `TIERS_JSON`: a partial override, e.g. `{"free": {"perMinute": 20}}`. */
export const TiersOverride = z.strictObject({
  free: TierLimits.partial().optional(),
  premium: TierLimits.partial().optional(),
  internal: TierLimits.partial().optional(),
});

/** The default table with an override merged in. */
export function mergeTiers(
  override: z.infer<typeof TiersOverride> | undefined,
): Record<TierName, TierLimits> {
  return {
    free: { ...defaultTiers.free, ...override?.free },
    premium: { ...defaultTiers.premium, ...override?.premium },
    internal: { ...defaultTiers.internal, ...override?.internal },
  };
}

/** A user's effective limits: the tier's row with the admin's per-user override on top. */
export function limitsFor(
  owner: { tier: TierName; limitsOverride: Record<string, number> | null },
  tiers: Record<TierName, TierLimits>,
): TierLimits {
  return { ...tiers[owner.tier], ...(owner.limitsOverride ?? {}) };
}
