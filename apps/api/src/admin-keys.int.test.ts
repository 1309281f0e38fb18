import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

// The admin key routes over the real app, Postgres and Redis. The key cache is long-lived here
// (60 s) so that only a revocation, never an expiry, can make a cached key fail.
let t: Awaited<ReturnType<typeof createTestApp>>;

beforeAll(async () => {
  t = await createTestApp('admin-keys', { env: { API_KEY_CACHE_TTL_MS: '60000' } });
});
afterAll(async () => {
  await t?.close();
});

function admin(method: string, path: string, token = ADMIN_TOKEN) {
  return t.app.request(path, { method, headers: { authorization: `Bearer ${token}` } });
}
const asUser = (key: string) => t.app.request('/v1/notes', { headers: { authorization: `Bearer ${key}` } });
const NO_SUCH_UUID = '00000000-0000-4000-8000-000000000000';

type KeyList = { data: { id: string; prefix: string; created_at: string; revoked_at: string | null }[] };

describe('admin key routes', () => {
  it('adds a key to a user, lists keys without them, and revokes one while the other keeps working', async () => {
    const user = await t.createUser();
    const created = await admin('POST', `/v1/admin/users/${user.id}/keys`);
    expect(created.status).toBe(201);
    const second = (await created.json()) as { id: string; api_key: string; prefix: string };
    expect(second.api_key.startsWith(second.prefix)).toBe(true);
    expect(second.api_key).not.toBe(user.api_key);
    expect((await asUser(user.api_key)).status).toBe(200);
    expect((await asUser(second.api_key)).status).toBe(200);

    const listed = (await (await admin('GET', `/v1/admin/users/${user.id}/keys`)).json()) as KeyList;
    expect(listed.data).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(second.api_key.slice(second.prefix.length));
    expect(listed.data.map((key) => key.revoked_at)).toEqual([null, null]);
    const first = listed.data.find((key) => key.id !== second.id);
    expect(first && user.api_key.startsWith(first.prefix)).toBe(true);

    // Both keys are cached now; revoking the first refuses it at once, the second still works.
    const revoked = await admin('DELETE', `/v1/admin/keys/${first?.id}`);
    expect(revoked.status).toBe(200);
    const body = (await revoked.json()) as { id: string; revoked_at: string };
    expect(body.id).toBe(first?.id);
    expect((await asUser(user.api_key)).status).toBe(401);
    expect((await asUser(second.api_key)).status).toBe(200);

    const after = (await (await admin('GET', `/v1/admin/users/${user.id}/keys`)).json()) as KeyList;
    expect(after.data.find((key) => key.id === first?.id)?.revoked_at).toBe(body.revoked_at);
  });

  it('revoking a revoked key answers the same revoked_at', async () => {
    const user = await t.createUser();
    const created = (await (await admin('POST', `/v1/admin/users/${user.id}/keys`)).json()) as { id: string };
    const once = await (await admin('DELETE', `/v1/admin/keys/${created.id}`)).json();
    const again = await admin('DELETE', `/v1/admin/keys/${created.id}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(once);
  });

  it('answers 404 for unknown users and keys, 400 for ids that are not UUIDs, 401 without the admin token', async () => {
    const cases: [string, string, number, string][] = [
      ['POST', `/v1/admin/users/${NO_SUCH_UUID}/keys`, 404, 'not_found'],
      ['GET', `/v1/admin/users/${NO_SUCH_UUID}/keys`, 404, 'not_found'],
      ['DELETE', `/v1/admin/keys/${NO_SUCH_UUID}`, 404, 'not_found'],
      ['POST', '/v1/admin/users/not-a-uuid/keys', 400, 'invalid_request'],
      ['GET', '/v1/admin/users/not-a-uuid/keys', 400, 'invalid_request'],
      ['DELETE', '/v1/admin/keys/not-a-uuid', 400, 'invalid_request'],
      ['DELETE', '/v1/admin/keys/%00', 400, 'invalid_request'],
    ];
    for (const [method, path, status, code] of cases) {
      const res = await admin(method, path);
      expect({ method, path, status: res.status }).toEqual({ method, path, status });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    const user = await t.createUser();
    const unauthorized = await admin('POST', `/v1/admin/users/${user.id}/keys`, user.api_key);
    expect(unauthorized.status).toBe(401);
  });
});
