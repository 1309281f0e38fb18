import {
  type ServiceProcess,
  STACK_ADMIN_TOKEN,
  type Stack,
  startService,
  startStack,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Two real API processes over one Redis and Postgres. Each caches key lookups for 60 s, so a
// key refused on the other process within the poll below can only be the revocation message.
let stack: Stack;
let apiA: ServiceProcess;
let apiB: ServiceProcess;

beforeAll(async () => {
  stack = await startStack('key-revocation', { API_KEY_CACHE_TTL_MS: '60000' }, { workers: 0 });
  apiA = stack.api;
  apiB = await startService('api', { ...stack.env, PORT: '0', MIGRATE_ON_START: 'false' });
});
afterAll(async () => {
  await apiB?.stop();
  await stack?.stop();
});

function admin(api: ServiceProcess, method: string, path: string) {
  return fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${STACK_ADMIN_TOKEN}` } });
}
async function status(api: ServiceProcess, key: string): Promise<number> {
  const res = await fetch(`${api.url}/v1/notes`, { headers: { authorization: `Bearer ${key}` } });
  await res.body?.cancel();
  return res.status;
}
async function keyIdOf(api: ServiceProcess, userId: string): Promise<string> {
  const res = await admin(api, 'GET', `/v1/admin/users/${userId}/keys`);
  const { data } = (await res.json()) as { data: { id: string }[] };
  if (data.length !== 1) throw new Error(`expected one key, got ${data.length}`);
  return data[0]!.id;
}

describe('revoking an API key', () => {
  it('refuses the key on every API process at once, though each had it cached', async () => {
    const user = await stack.createUser();
    // Both processes look the key up and cache it.
    expect(await status(apiA, user.api_key)).toBe(200);
    expect(await status(apiB, user.api_key)).toBe(200);
    expect(await status(apiB, user.api_key)).toBe(200);

    const revoked = await admin(apiA, 'DELETE', `/v1/admin/keys/${await keyIdOf(apiA, user.id)}`);
    expect(revoked.status).toBe(200);
    expect(await status(apiA, user.api_key)).toBe(401);
    // Pub/sub is asynchronous, but a message, not the 60 s cache TTL.
    await expect.poll(() => status(apiB, user.api_key), { timeout: 500, interval: 25 }).toBe(401);
  });

  it('a new key works on every process; the old one keeps working until it is revoked', async () => {
    const user = await stack.createUser();
    const oldKeyId = await keyIdOf(apiB, user.id);
    const created = await admin(apiB, 'POST', `/v1/admin/users/${user.id}/keys`);
    expect(created.status).toBe(201);
    const { api_key: newKey } = (await created.json()) as { api_key: string };
    for (const api of [apiA, apiB]) {
      expect(await status(api, newKey)).toBe(200);
      expect(await status(api, user.api_key)).toBe(200);
    }

    expect((await admin(apiB, 'DELETE', `/v1/admin/keys/${oldKeyId}`)).status).toBe(200);
    await expect.poll(() => status(apiA, user.api_key), { timeout: 500, interval: 25 }).toBe(401);
    expect(await status(apiB, user.api_key)).toBe(401);
    for (const api of [apiA, apiB]) expect(await status(api, newKey)).toBe(200);
  });
});
