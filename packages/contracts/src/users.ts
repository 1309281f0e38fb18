import { z } from 'zod';

/** Tier names, their one source: the users table's column enum, config's `TierName`. */
export const TIER_NAMES = ['free', 'premium', 'internal'] as const;
/** Service tiers; each is a row of limits in config. */
export const Tier = z.enum(TIER_NAMES);
export type Tier = z.infer<typeof Tier>;

/** A user id as the API issues them (a UUID); anything else names no user. */
export const UserId = z.uuid('must be a user id (a UUID)');
export type UserId = z.infer<typeof UserId>;

/** Body of `POST /v1/admin/users`. */
export const CreateUser = z.strictObject({
  tier: Tier.default('free'),
  email: z.email().optional(),
});
export type CreateUser = z.infer<typeof CreateUser>;

/** Reply to `POST /v1/admin/users`: the key is shown once and never stored in clear. */
export const CreatedUser = z.object({ id: z.string(), api_key: z.string(), tier: Tier });
export type CreatedUser = z.infer<typeof CreatedUser>;

/** Reply to `GET /v1/me`: who the presented API key belongs to. */
export const Me = z.object({ user_id: z.string(), tier: Tier, key_id: z.string() });
export type Me = z.infer<typeof Me>;

/** A partial override of a tier's limits for one user (money in micro-dollars). */
export const LimitsOverride = z.strictObject({
  perMinute: z.number().int().nonnegative().optional(),
  perHour: z.number().int().nonnegative().optional(),
  perDay: z.number().int().nonnegative().optional(),
  dailyBudgetMicros: z.number().int().nonnegative().optional(),
  maxInFlight: z.number().int().positive().optional(),
  maxRunning: z.number().int().positive().optional(),
});
export type LimitsOverride = z.infer<typeof LimitsOverride>;

/** Body of `PATCH /v1/admin/users/:id`: a new tier and/or limits override (null clears it). */
export const UpdateUser = z
  .strictObject({ tier: Tier.optional(), limits: LimitsOverride.nullable().optional() })
  .refine((body) => body.tier !== undefined || body.limits !== undefined, 'give tier and/or limits');
export type UpdateUser = z.infer<typeof UpdateUser>;

/** An API key id as the API issues them (a UUID); anything else names no key. */
export const ApiKeyId = z.uuid('must be an API key id (a UUID)');
export type ApiKeyId = z.infer<typeof ApiKeyId>;

/** Reply to `POST /v1/admin/users/:id/keys`: like a user's first key, shown this once. */
export const CreatedApiKey = z.object({ id: ApiKeyId, api_key: z.string(), prefix: z.string() });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

/** One key in `GET /v1/admin/users/:id/keys`: never the key itself, only its first characters. */
export const ApiKeyView = z.object({
  id: ApiKeyId,
  prefix: z.string(),
  created_at: z.iso.datetime(),
  revoked_at: z.iso.datetime().nullable(),
});
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** Reply to `DELETE /v1/admin/keys/:id`: when the key was revoked (the first time, if repeated). */
export const RevokedApiKey = z.object({ id: ApiKeyId, revoked_at: z.iso.datetime() });
export type RevokedApiKey = z.infer<typeof RevokedApiKey>;
