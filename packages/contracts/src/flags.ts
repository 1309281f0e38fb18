import { z } from 'zod';
import { UserId } from './users.ts';

/**
 * Every production feature that sits behind a runtime flag. A new feature adds its name here
 * (its default comes from `FLAGS_DEFAULT_OFF` in config).
 */
export const FLAG_NAMES = [
  'exact_cache',
  'semantic_cache',
  'rate_limits',
  'budgets',
  'breakers',
  'tracing',
  'classification_routing',
  'quality_scoring',
  'escalation',
  'experiments',
] as const;

/** The name of a flag. */
export const FlagName = z.enum(FLAG_NAMES);
export type FlagName = z.infer<typeof FlagName>;

/** Most user ids an allow or deny list holds. */
export const MAX_FLAG_USERS = 1000;

const userList = z.array(UserId).max(MAX_FLAG_USERS, `at most ${MAX_FLAG_USERS} user ids`);

/**
 * A flag's rule: `deny` wins, then `allow`, then off when `enabled` is false, else on for the
 * users whose stable hash bucket falls below `percentage` (0–100, two decimals count).
 */
export const FlagRule = z.strictObject({
  enabled: z.boolean(),
  percentage: z.number().min(0, 'percentage must be 0–100').max(100, 'percentage must be 0–100'),
  allow: userList,
  deny: userList,
});
export type FlagRule = z.infer<typeof FlagRule>;

/** Body of `PATCH /v1/admin/flags/:name`: the fields to change, and why. */
export const FlagPatch = FlagRule.partial().extend({
  /** Why (kept in the change log). */
  reason: z.string().trim().max(500).optional(),
});
export type FlagPatch = z.infer<typeof FlagPatch>;

/** One recorded change of a flag. */
export const FlagChange = z.object({
  flag: FlagName,
  /** Who: the admin's `X-Actor` header (or `admin`), or `canary-guard`. */
  actor: z.string(),
  reason: z.string().nullable(),
  at: z.string(),
  /** The override before and after (null: none, the config default applied). */
  before: FlagRule.nullable(),
  after: FlagRule.nullable(),
});
export type FlagChange = z.infer<typeof FlagChange>;

/** A flag as the admin API shows it. */
export const FlagView = z.object({
  name: FlagName,
  /** `default` (from config) or `override` (set at runtime). */
  source: z.enum(['default', 'override']),
  rule: FlagRule,
});
export type FlagView = z.infer<typeof FlagView>;
