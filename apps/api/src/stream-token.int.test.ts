import { readSse, type SseEvent } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

// The signed stream token of `events` links, over the real app, Redis and Postgres: it replaces
// the Authorization header on that one route, for that one query, until it expires.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let t: TestApp;
let key: string;

const ending = { type: 'error', error: { code: 'timeout', message: 'ended by the test' } } as const;

beforeAll(async () => {
  t = await createTestApp('stream-token', { env: { STREAM_TOKEN_TTL_SECONDS: '1' } });
  key = (await t.createUser()).api_key;
});

afterAll(async () => {
  await t?.close();
});

async function submit(apiKey: string, query: string) {
  const res = await t.app.request('/v1/queries', {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { id: string; links: { self: string; events: string } };
}

async function errorCode(res: Response) {
  return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
}

describe('stream tokens on GET /v1/queries/:id/events', () => {
  it('the events link of the submit reply streams without an Authorization header', async () => {
    const { id, links } = await submit(key, 'token stream one');
    await t.events.append(id, { type: 'token', text: 'hi' });
    await t.events.append(id, ending);
    const res = await t.app.request(links.events);
    expect(res.status).toBe(200);
    const events: SseEvent[] = [];
    await readSse(res.body!, (event) => {
      events.push(event);
    });
    expect(events.map((e) => e.event)).toEqual(['queued', 'token', 'error']);
  });

  it("refuses another query's token, an altered one and an expired one with 401 and a stable code", async () => {
    const first = await submit(key, 'token stream two');
    const second = await submit(key, 'token stream three');
    const tokenOf = (link: string) => new URL(link, 'http://x').searchParams.get('token')!;
    const firstToken = tokenOf(first.links.events);

    const cases: [string, string, string][] = [
      ['another query', `/v1/queries/${second.id}/events?token=${firstToken}`, 'stream_token_invalid'],
      [
        'an altered expiry',
        `/v1/queries/${first.id}/events?token=${firstToken.replace(/\.(\d+)\./, (_, e) => `.${Number(e) + 60}.`)}`,
        'stream_token_invalid',
      ],
      ['garbage', `/v1/queries/${first.id}/events?token=nonsense`, 'stream_token_invalid'],
      ['an empty token', `/v1/queries/${first.id}/events?token=`, 'stream_token_invalid'],
    ];
    for (const [what, path, code] of cases) {
      expect({ what, ...(await errorCode(await t.app.request(path))) }).toEqual({ what, status: 401, code });
    }
    // Not accepted on any other route, even for its own query.
    expect(await errorCode(await t.app.request(`/v1/queries/${first.id}?token=${firstToken}`))).toEqual({
      status: 401,
      code: 'unauthorized',
    });
  });

  it('an expired token is 401 stream_token_expired; GET of the query gives a fresh link', async () => {
    const { id, links } = await submit(key, 'token stream six');
    const token = new URL(links.events, 'http://x').searchParams.get('token')!;
    const [v, user, expires, mac] = token.split('.') as [string, string, string, string];
    // Re-signing is impossible from outside: wait out the 10 s TTL instead.
    await new Promise((resolve) => setTimeout(resolve, Number(expires) * 1000 - Date.now() + 50));
    expect(await errorCode(await t.app.request(links.events))).toEqual({
      status: 401,
      code: 'stream_token_expired',
    });
    expect([v, user].join('.')).toMatch(/^v1\./);
    expect(mac.length).toBe(43);
    const view = (await (
      await t.app.request(`/v1/queries/${id}`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { links: { events: string } };
    await t.events.append(id, ending);
    const fresh = await t.app.request(view.links.events);
    expect(fresh.status).toBe(200);
    await fresh.body?.cancel();
  });
});
