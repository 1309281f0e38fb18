import { hashApiKey, type KeyOwner } from '@assistant/db';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../app-env.ts';
import { createUserAuth, type KeyLookup } from './auth.ts';

const owner: KeyOwner = { userId: 'u1', tier: 'free', keyId: 'k1', limitsOverride: null };
const KEY = 'ask_test-key';

/** A key store whose lookups are counted, and can be held open to model a slow Postgres. */
function keyStore() {
  const state = { lookups: 0, revoked: false, hold: undefined as Promise<void> | undefined };
  const lookup: KeyLookup = async (apiKey) => {
    state.lookups += 1;
    const revokedAtStart = state.revoked;
    await state.hold;
    return apiKey === KEY && !revokedAtStart ? owner : undefined;
  };
  /** Holds every lookup open until the returned function is called. */
  function hold(): () => void {
    let release = () => {};
    state.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }
  return { state, lookup, hold };
}

function appWith(auth: ReturnType<typeof createUserAuth>) {
  const app = new Hono<AppEnv>();
  app.onError((err, c) => c.json({ error: err.message }, 401));
  app.use('/me', auth);
  app.get('/me', (c) => c.json(c.get('user')));
  return (key = KEY) => app.request('/me', { headers: { authorization: `Bearer ${key}` } });
}

describe('user auth key cache', () => {
  it('serves a found key from the cache until it is evicted by its hash', async () => {
    const { state, lookup } = keyStore();
    const auth = createUserAuth(lookup, { cacheTtlMs: 60_000 });
    const get = appWith(auth);
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(200);
    expect(state.lookups).toBe(1);
    state.revoked = true;
    auth.evict(hashApiKey(KEY));
    expect((await get()).status).toBe(401);
    expect(state.lookups).toBe(2);
  });

  it('drops every key on clear', async () => {
    const { state, lookup } = keyStore();
    const auth = createUserAuth(lookup, { cacheTtlMs: 60_000 });
    const get = appWith(auth);
    await get();
    auth.clear();
    await get();
    expect(state.lookups).toBe(2);
  });

  it('does not cache a lookup that was in flight when its key was evicted', async () => {
    const { state, lookup, hold } = keyStore();
    const auth = createUserAuth(lookup, { cacheTtlMs: 60_000 });
    const get = appWith(auth);
    const release = hold();
    // This lookup reads the key as live, then the key is revoked before it returns.
    const inFlight = get();
    await expect.poll(() => state.lookups).toBe(1);
    state.revoked = true;
    auth.evict(hashApiKey(KEY));
    release();
    expect((await inFlight).status).toBe(200);
    state.hold = undefined;
    expect((await get()).status).toBe(401);
  });

  it('looks every request up while the cache is not usable', async () => {
    const { state, lookup } = keyStore();
    let usable = false;
    const auth = createUserAuth(lookup, { cacheTtlMs: 60_000, cacheUsable: () => usable });
    const get = appWith(auth);
    await get();
    await get();
    expect(state.lookups).toBe(2);
    usable = true;
    await get();
    await get();
    expect(state.lookups).toBe(3);
  });

  it('lets concurrent requests with one key share a single lookup', async () => {
    const { state, lookup, hold } = keyStore();
    const auth = createUserAuth(lookup, { cacheTtlMs: 60_000 });
    const get = appWith(auth);
    const release = hold();
    const burst = Array.from({ length: 20 }, () => get());
    await expect.poll(() => state.lookups).toBe(1);
    release();
    const statuses = (await Promise.all(burst)).map((res) => res.status);
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 200));
    expect(state.lookups).toBe(1);
  });

  it('does not let a request after an eviction join a lookup that started before it', async () => {
    const { state, lookup, hold } = keyStore();
    const auth = createUserAuth(lookup, { cacheTtlMs: 60_000 });
    const get = appWith(auth);
    const release = hold();
    const before = get();
    await expect.poll(() => state.lookups).toBe(1);
    state.revoked = true;
    auth.evict(hashApiKey(KEY));
    const after = get();
    await expect.poll(() => state.lookups).toBe(2);
    release();
    expect((await before).status).toBe(200);
    expect((await after).status).toBe(401);
  });
});
