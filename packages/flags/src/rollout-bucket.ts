import { createHash } from 'node:crypto';

/** Buckets a percentage rollout is counted in: 0.01% each, so two decimals of a percentage count. */
export const ROLLOUT_BUCKETS = 10_000;

/**
 * A user's stable bucket in [0, {@link ROLLOUT_BUCKETS}) under a salt (a flag name, an
 * experiment id): the first 32 bits of SHA-256(`salt:userId`). Salting by flag keeps each
 * flag's cohort independent of the others', so the canary guard can tell which flag hurts.
 */
export function rolloutBucket(salt: string, userId: string): number {
  const digest = createHash('sha256').update(`${salt}:${userId}`).digest();
  return digest.readUInt32BE(0) % ROLLOUT_BUCKETS;
}

/**
 * Whether a user is inside a `percentage` (0–100) rollout: its bucket is below the cut. The
 * users inside 5% are therefore inside 25% too: raising a rollout only adds users.
 */
export function inRollout(percentage: number, salt: string, userId: string): boolean {
  if (percentage >= 100) return true;
  if (percentage <= 0) return false;
  return rolloutBucket(salt, userId) < Math.round(percentage * (ROLLOUT_BUCKETS / 100));
}
