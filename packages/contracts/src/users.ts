import { z } from 'zod';

/** Service tiers; each is a row of limits in config. */
export const Tier = z.enum(['free', 'premium', 'internal']);
export type Tier = z.infer<typeof Tier>;

/** Body of `POST /v1/admin/users`. */
export const CreateUser = z.strictObject({
  tier: Tier.default('free'),
  email: z.email().optional(),
});
export type CreateUser = z.infer<typeof CreateUser>;

/** Reply to `POST /v1/admin/users`: the key is shown once and never stored in clear. */
export const CreatedUser = z.object({ id: z.string(), api_key: z.string(), tier: Tier });
export type CreatedUser = z.infer<typeof CreatedUser>;
