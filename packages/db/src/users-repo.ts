import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from './client.ts';
import { apiKeys, users } from './schema.ts';

/** Tier names as stored. */
export type TierName = 'free' | 'premium' | 'internal';

/** Who an API key belongs to. */
export type KeyOwner = {
  userId: string;
  tier: TierName;
  keyId: string;
  /** An admin's per-user override of the tier's limits, or null. */
  limitsOverride: Record<string, number> | null;
};

const KEY_PREFIX = 'ask_';

/** SHA-256 hex of an API key: the only form a key is stored in. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new random API key (256 bits, base64url) with a recognisable prefix. */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Users and their API keys. */
export function createUsersRepo(db: Database) {
  return {
    /** Creates a user and a first API key; returns the key in clear, the only time it exists so. */
    async createUserWithKey(input: { tier: TierName; email?: string }) {
      const userId = randomUUID();
      const apiKey = generateApiKey();
      await db.transaction(async (tx) => {
        await tx.insert(users).values({ id: userId, tier: input.tier, email: input.email ?? null });
        await tx.insert(apiKeys).values({
          id: randomUUID(),
          userId,
          keyHash: hashApiKey(apiKey),
          keyPrefix: apiKey.slice(0, KEY_PREFIX.length + 6),
        });
      });
      return { id: userId, apiKey, tier: input.tier };
    },

    /** Changes a user's tier and/or limits override (null clears it). `undefined` if no such user. */
    async updateUser(
      id: string,
      change: { tier?: TierName; limitsOverride?: Record<string, number> | null },
    ): Promise<{ id: string; tier: TierName; limitsOverride: Record<string, number> | null } | undefined> {
      const rows = await db
        .update(users)
        .set(change)
        .where(eq(users.id, id))
        .returning({ id: users.id, tier: users.tier, limitsOverride: users.limitsOverride });
      return rows[0];
    },

    /** The owner of a live key, or `undefined` for an unknown or revoked key. */
    async findKeyOwner(apiKey: string): Promise<KeyOwner | undefined> {
      const rows = await db
        .select({
          userId: users.id,
          tier: users.tier,
          keyId: apiKeys.id,
          limitsOverride: users.limitsOverride,
        })
        .from(apiKeys)
        .innerJoin(users, eq(users.id, apiKeys.userId))
        .where(and(eq(apiKeys.keyHash, hashApiKey(apiKey)), isNull(apiKeys.revokedAt)))
        .limit(1);
      return rows[0];
    },
  };
}

/** The users repository's interface. */
export type UsersRepo = ReturnType<typeof createUsersRepo>;
