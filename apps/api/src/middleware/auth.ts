import { createHash, timingSafeEqual } from 'node:crypto';
import type { KeyOwner } from '@assistant/db';
import type { MiddlewareHandler } from 'hono';
import { LRUCache } from 'lru-cache';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../app-error.ts';

/** Looks up the owner of an API key; `undefined` when unknown or revoked. */
export type KeyLookup = (apiKey: string) => Promise<KeyOwner | undefined>;

/** Options of {@link createUserAuth}. */
export type UserAuthOptions = {
  /** How long a found key stays cached in memory. @defaultValue 30000 */
  cacheTtlMs: number;
  /** @defaultValue 10000 */
  cacheSize?: number;
};

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

function unauthorized(message: string): AppError {
  return new AppError('unauthorized', message, {
    status: 401,
    headers: { 'WWW-Authenticate': 'Bearer realm="assistant"' },
  });
}

/**
 * Authenticates `Authorization: Bearer <api key>`. Found keys are cached briefly so a busy
 * client costs one Postgres lookup per TTL; unknown keys are not cached (they would let anyone
 * fill the cache), so revocation takes effect within the TTL.
 */
export function createUserAuth(lookup: KeyLookup, options: UserAuthOptions): MiddlewareHandler<AppEnv> {
  const cache = new LRUCache<string, KeyOwner>({
    max: options.cacheSize ?? 10_000,
    ttl: Math.max(1, options.cacheTtlMs),
  });
  return async function userAuth(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('missing bearer API key');
    const cacheKey = createHash('sha256').update(token).digest('hex');
    let owner = options.cacheTtlMs > 0 ? cache.get(cacheKey) : undefined;
    if (!owner) {
      owner = await lookup(token);
      if (!owner) throw unauthorized('invalid API key');
      if (options.cacheTtlMs > 0) cache.set(cacheKey, owner);
    }
    c.set('user', owner);
    await next();
  };
}

/** Authenticates `Authorization: Bearer <ADMIN_TOKEN>` in constant time. */
export function createAdminAuth(adminToken: string): MiddlewareHandler<AppEnv> {
  const expected = createHash('sha256').update(adminToken).digest();
  return async function adminAuth(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('missing bearer admin token');
    const given = createHash('sha256').update(token).digest();
    if (!timingSafeEqual(given, expected)) throw unauthorized('invalid admin token');
    await next();
  };
}
