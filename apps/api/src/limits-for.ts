import type { TierLimits, TierName } from '@assistant/config';
import type { KeyOwner } from '@assistant/db';

/** A user's effective limits: the tier's row with the admin's per-user override on top. */
export function limitsFor(owner: KeyOwner, tiers: Record<TierName, TierLimits>): TierLimits {
  return { ...tiers[owner.tier], ...(owner.limitsOverride ?? {}) };
}
