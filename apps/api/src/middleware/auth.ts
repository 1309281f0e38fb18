import { createHash, timingSafeEqual } from 'node:crypto';
import { hashApiKey, type KeyOwner } from '@assistant/db';
import type { MiddlewareHandler } from 'hono';
import { LRUCache } from 'lru-cache';
import type { AppEnv } from '../app-env.ts';
import { AppError } from '../app-error.ts';
import type { RevocableKeyCache } from '../key-revocations.ts';

/** Looks up the owner of an API key; `undefined` when unknown or revoked. */
export type KeyLookup = (apiKey: string) => Promise<KeyOwner | undefined>;

/** Options of {@link createUserAuth}. */
export type UserAuthOptions = {
  /** How long a found key stays cached in memory. @defaultValue 30000 */
  cacheTtlMs: number;
  /** @defaultValue 10000 */
  cacheSize?: number;
  /**
   * Whether cached keys can be trusted now: false while revocations could be missed (their
   * subscription is down), and then every request looks its key up. @defaultValue always true
   */
  cacheUsable?: () => boolean;
};

/** The user-auth middleware, and the handles that drop its cached keys. */
export type UserAuth = MiddlewareHandler<AppEnv> & RevocableKeyCache;

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
 * Authenticates `Authorization: Bearer <api key>`. Found keys are cached so a busy client costs
 * one Postgres lookup per TTL; unknown keys are not cached (they would let anyone fill the
 * cache). Entries are keyed by the key's hash, the form revocations name a key by: `evict` and
 * `clear` make a revocation take effect at once (see key-revocations.ts).
 */
export function createUserAuth(lookup: KeyLookup, options: UserAuthOptions): UserAuth {
  const cache = new LRUCache<string, KeyOwner>({
    max: options.cacheSize ?? 10_000,
    ttl: Math.max(1, options.cacheTtlMs),
  });
  const cacheUsable = () => options.cacheTtlMs > 0 && (options.cacheUsable?.() ?? true);
  // Bumped by every eviction: a lookup that started before a revocation may have read the key
  // as live, and must not put it back into the cache after the eviction.
  let invalidations = 0;
  // Lookups under way, by key hash: a burst of one key's requests (a cold cache after a restart,
  // 1000 questions at once) waits for one Postgres lookup instead of queueing one each behind the
  // pool. A request joins only a lookup started since the last eviction, so none is answered
  // from a read a revocation has overtaken.
  const pending = new Map<string, { since: number; owner: Promise<KeyOwner | undefined> }>();

  function lookupOnce(token: string, keyHash: string): Promise<KeyOwner | undefined> {
    const running = pending.get(keyHash);
    if (running && running.since === invalidations && cacheUsable()) return running.owner;
    const since = invalidations;
    const owner = lookup(token).then((found) => {
      if (found && cacheUsable() && since === invalidations) cache.set(keyHash, found);
      return found;
    });
    const entry = { since, owner };
    pending.set(keyHash, entry);
    const done = () => {
      if (pending.get(keyHash) === entry) pending.delete(keyHash);
    };
    owner.then(done, done);
    return owner;
  }

  async function userAuth(c: Parameters<MiddlewareHandler<AppEnv>>[0], next: () => Promise<void>) {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('missing bearer API key');
    const keyHash = hashApiKey(token);
    const owner = (cacheUsable() ? cache.get(keyHash) : undefined) ?? (await lookupOnce(token, keyHash));
    if (!owner) throw unauthorized('invalid API key');
    c.set('user', owner);
    await next();
  }

  return Object.assign(userAuth, {
    evict(keyHash: string) {
      invalidations += 1;
      cache.delete(keyHash);
    },
    clear() {
      invalidations += 1;
      cache.clear();
    },
  });
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
