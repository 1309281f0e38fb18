import { QUEUE_NAMES } from '@assistant/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

// Bull Board at /admin/queues over the real app and Redis: every queue, behind the admin token,
// with a browser sign-in that never puts the token in a URL.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp('queue-board');
});

afterAll(async () => {
  await t?.close();
});

const html = { accept: 'text/html' };

function signIn(token: string, headers: Record<string, string> = html) {
  return t.app.request('/admin/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token }).toString(),
  });
}

async function sessionCookie(): Promise<string> {
  const res = await signIn(ADMIN_TOKEN);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

describe('the queue dashboard at /admin/queues', () => {
  it('sends a browser without a session to the sign-in form, and anything else gets 401 JSON', async () => {
    const browser = await t.app.request('/admin/queues', { headers: html });
    expect(browser.status).toBe(303);
    expect(browser.headers.get('location')).toBe('/admin/login');
    const script = await t.app.request('/admin/queues/api/queues');
    expect(script.status).toBe(401);
    expect(((await script.json()) as { error: { code: string } }).error.code).toBe('unauthorized');

    const form = await t.app.request('/admin/login');
    expect(form.status).toBe(200);
    const page = await form.text();
    expect(page).toContain('<form method="post" action="/admin/login">');
    expect(page).toContain('type="password"');
  });

  it('a POSTed admin token sets an HttpOnly, SameSite=Strict session cookie and redirects to the board', async () => {
    const res = await signIn(ADMIN_TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/queues');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^assistant_admin=v1\.\d+\.[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/admin/);
    expect(cookie).not.toContain(ADMIN_TOKEN);

    const board = await t.app.request('/admin/queues', {
      headers: { ...html, cookie: cookie.split(';')[0]! },
    });
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('assistant queues');
  });

  it('lists every queue of the service, to a session or a bearer admin token', async () => {
    for (const headers of [
      { cookie: await sessionCookie() },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    ] as Record<string, string>[]) {
      const res = await t.app.request('/admin/queues/api/queues', { headers });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { queues: { name: string }[] };
      expect(body.queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUE_NAMES).sort());
    }
  });

  it('serves the board UI assets to a session', async () => {
    const cookie = await sessionCookie();
    const page = await (await t.app.request('/admin/queues', { headers: { ...html, cookie } })).text();
    const base = /<base href="([^"]+)"/.exec(page)?.[1];
    const asset = /src="(static\/js\/main[^"]+\.js)"/.exec(page)?.[1];
    expect({ base, asset }).toEqual({ base: '/admin/queues/', asset: expect.any(String) });
    const res = await t.app.request(`${base}${asset}`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
  });

  it('refuses a wrong token, an altered or foreign session cookie and a wrong bearer token', async () => {
    const wrong = await signIn('not-the-admin-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const wrongJson = await signIn('not-the-admin-token', {});
    expect(((await wrongJson.json()) as { error: { code: string } }).error.code).toBe('unauthorized');

    const cookie = await sessionCookie();
    const altered = cookie.replace(/\.(\d+)\./, (_, e: string) => `.${Number(e) + 3600}.`);
    const other = await createTestApp('queue-board-other', {
      env: { ADMIN_TOKEN: 'another-admin-token-0123456789' },
    });
    try {
      const foreign = await other.app.request('/admin/queues/api/queues', { headers: { cookie } });
      expect(foreign.status).toBe(401);
    } finally {
      await other.close();
    }
    const refused: Record<string, string>[] = [
      { cookie: altered },
      { cookie: 'assistant_admin=junk' },
      { authorization: 'Bearer nope' },
    ];
    for (const headers of refused) {
      const res = await t.app.request('/admin/queues/api/queues', { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
  });

  it('signing out clears the cookie', async () => {
    const res = await t.app.request('/admin/logout', {
      method: 'POST',
      headers: { cookie: await sessionCookie() },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/^assistant_admin=;.*Max-Age=0/);
  });
});
