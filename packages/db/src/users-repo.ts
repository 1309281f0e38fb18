import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Tier } from '@assistant/contracts';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { apiKeys, users } from './schema.ts';

/** Tier names as stored: the contracts' `Tier`. */
export type TierName = Tier;

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

/** One API key as listed: never the key itself. */
export type ApiKeyInfo = { id: string; prefix: string; createdAt: Date; revokedAt: Date | null };

/** A fresh key and the row that stores it (its hash and first characters, never the key). */
function newKeyRow(userId: string) {
  const apiKey = generateApiKey();
  const row = {
    id: randomUUID(),
    userId,
    keyHash: hashApiKey(apiKey),
    keyPrefix: apiKey.slice(0, KEY_PREFIX.length + 6),
  };
  return { apiKey, row };
}

/** Users and their API keys. */
export function createUsersRepo(db: Database) {
  async function userExists(tx: Pick<Database, 'select'>, userId: string): Promise<boolean> {
    const rows = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).limit(1);
    return rows.length > 0;
  }

  return {
    /** Creates a user and a first API key; returns the key in clear, the only time it exists so. */
    async createUserWithKey(input: { tier: TierName; email?: string }) {
      const userId = randomUUID();
      const { apiKey, row } = newKeyRow(userId);
      await db.transaction(async (tx) => {
        await tx.insert(users).values({ id: userId, tier: input.tier, email: input.email ?? null });
        await tx.insert(apiKeys).values(row);
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

    /** A user's tier and limits override, or `undefined` if there is no such user. */
    async findUser(
      id: string,
    ): Promise<{ id: string; tier: TierName; limitsOverride: Record<string, number> | null } | undefined> {
      const rows = await db
        .select({ id: users.id, tier: users.tier, limitsOverride: users.limitsOverride })
        .from(users)
        .where(eq(users.id, id))
        .limit(1);
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

    /** Adds a key to an existing user (returned in clear this once); `undefined` if no such user. */
    async createKey(userId: string): Promise<{ id: string; apiKey: string; prefix: string } | undefined> {
      const { apiKey, row } = newKeyRow(userId);
      const created = await db.transaction(async (tx) => {
        if (!(await userExists(tx, userId))) return false;
        await tx.insert(apiKeys).values(row);
        return true;
      });
      return created ? { id: row.id, apiKey, prefix: row.keyPrefix } : undefined;
    },

    /** A user's keys, oldest first, revoked ones included; `undefined` if no such user. */
    async listKeys(userId: string): Promise<ApiKeyInfo[] | undefined> {
      return db.transaction(async (tx) => {
        if (!(await userExists(tx, userId))) return undefined;
        return tx
          .select({
            id: apiKeys.id,
            prefix: apiKeys.keyPrefix,
            createdAt: apiKeys.createdAt,
            revokedAt: apiKeys.revokedAt,
          })
          .from(apiKeys)
          .where(eq(apiKeys.userId, userId))
          .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
      });
    },

    /**
     * Revokes a key; idempotent: a revoked key keeps its first `revokedAt`. Returns the key's hash
     * (what API processes cache a key under, so they can evict it), or `undefined` if no such key.
     */
    async revokeKey(keyId: string): Promise<{ id: string; keyHash: string; revokedAt: Date } | undefined> {
      const rows = await db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(eq(apiKeys.id, keyId))
        .returning({ id: apiKeys.id, keyHash: apiKeys.keyHash, revokedAt: apiKeys.revokedAt });
      const row = rows[0];
      return row?.revokedAt ? { id: row.id, keyHash: row.keyHash, revokedAt: row.revokedAt } : undefined;
    },
  };
}

/** The users repository's interface. */
export type UsersRepo = ReturnType<typeof createUsersRepo>;
