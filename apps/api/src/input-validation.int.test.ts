import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

/*
 * The inputs an outside fuzzer turned into 500s (issue #10): each reached Postgres (a NUL byte,
 * an impossible date) and failed the query. Each is now a 400 `invalid_request` at the edge.
 */

let t: Awaited<ReturnType<typeof createTestApp>>;
let key: string;
let userId: string;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

beforeAll(async () => {
  t = await createTestApp('inputs');
  const user = await t.createUser();
  key = user.api_key;
  userId = user.id;
});
afterAll(async () => {
  await t?.close();
});

const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
const NOTE = 'n_00000000000000000000000000000000';

async function expect400(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string; request_id: string } };
  expect({ status: res.status, body }).toMatchObject({
    status: 400,
    body: { error: { code: 'invalid_request' } },
  });
  expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
}

describe('inputs that used to reach Postgres', () => {
  it.each([
    ['a NUL byte', 'a%00b'],
    ['a NUL byte after a real id', () => `${userId}%00`],
    ['not a UUID', 'u_123'],
  ])('PATCH /v1/admin/users/:id with %s is a 400', async (_, id) => {
    const res = await t.app.request(`/v1/admin/users/${typeof id === 'function' ? id() : id}`, {
      method: 'PATCH',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'premium' }),
    });
    await expect400(res);
  });

  it.each([
    ['a year past what Postgres holds', cursorOf(`+275760-09-13T00:00:00.000Z|${NOTE}`)],
    ['year 0', cursorOf(`0000-01-01T00:00:00.000Z|${NOTE}`)],
    ['an impossible month', cursorOf(`2024-13-45T00:00:00.000Z|${NOTE}`)],
    ['a date JS would roll over', cursorOf(`2024-02-30T00:00:00.000Z|${NOTE}`)],
    ['a NUL byte in the id', cursorOf('2024-01-01T00:00:00.000Z|n_\u0000')],
    ['a bare number as the date', cursorOf(`1|${NOTE}`)],
    ['characters outside base64url', 'a%00b'],
  ])('GET /v1/notes with a cursor of %s is a 400', async (_, cursor) => {
    const res = await t.app.request(`/v1/notes?cursor=${cursor}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    await expect400(res);
  });

  describe.each([
    ['/v1/usage', () => ({ authorization: `Bearer ${key}` })],
    ['/v1/admin/usage', () => admin],
  ])('GET %s', (path, headers) => {
    it.each([
      'from=2024-13-45',
      'from=2024-02-30',
      'from=0000-00-00',
      'to=2024-99-99',
      'to=2023-02-29',
      'from=%00',
    ])('refuses %s with a 400', async (qs) => {
      await expect400(await t.app.request(`${path}?${qs}`, { headers: headers() }));
    });

    it('accepts a leap day', async () => {
      const res = await t.app.request(`${path}?from=2024-02-29&to=2024-02-29`, { headers: headers() });
      expect(res.status).toBe(200);
    });
  });

  it('still pages through notes with the cursors it returns', async () => {
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    for (const title of ['a', 'b', 'c']) {
      await t.app.request('/v1/notes', {
        method: 'POST',
        headers,
        body: JSON.stringify({ title, body: 'x' }),
      });
    }
    const first = (await (await t.app.request('/v1/notes?limit=2', { headers })).json()) as {
      data: unknown[];
      next_cursor: string;
    };
    const second = await t.app.request(`/v1/notes?limit=2&cursor=${first.next_cursor}`, { headers });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { data: unknown[] }).data).toHaveLength(1);
  });
});
