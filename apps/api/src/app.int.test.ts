import { startTcpProxy, testServers } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

let t: TestApp;
let key: string;
let otherKey: string;

beforeAll(async () => {
  t = await createTestApp('api');
  // Internal tier: this file sends more questions than a free user may per minute.
  key = (await t.createUser('internal')).api_key;
  otherKey = (await t.createUser('premium')).api_key;
});
afterAll(async () => {
  await t?.close();
});

function submit(body: unknown, init: { key?: string; headers?: Record<string, string>; raw?: string } = {}) {
  return t.app.request('/v1/queries', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.key === '' ? {} : { authorization: `Bearer ${init.key ?? key}` }),
      ...init.headers,
    },
    body: init.raw ?? JSON.stringify(body),
  });
}

async function jobCount(): Promise<number> {
  const counts = await t.queue.queue.getJobCounts(
    'waiting',
    'active',
    'delayed',
    'completed',
    'failed',
    'prioritized',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string; request_id: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  return body;
}

describe('POST /v1/admin/users', () => {
  it('creates a user and shows its key once', async () => {
    const res = await t.app.request('/v1/admin/users', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'premium' }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; api_key: string; tier: string };
    expect(body.tier).toBe('premium');
    expect(body.api_key).toMatch(/^ask_[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a missing or wrong admin token, and a user key', async () => {
    for (const authorization of [undefined, 'Bearer nope', `Bearer ${key}`]) {
      const res = await t.app.request('/v1/admin/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: '{}',
      });
      await expectError(res, 401, 'unauthorized');
    }
  });

  it('rejects an unknown tier', async () => {
    const res = await t.app.request('/v1/admin/users', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'gold' }),
    });
    await expectError(res, 400, 'invalid_request');
  });
});

describe('POST /v1/queries', () => {
  it('accepts a question: 202, a queued row, a queued event and one job', async () => {
    const res = await submit({ query: '  What did I note about the garden?  ' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as {
      id: string;
      status: string;
      links: { self: string; events: string };
    };
    expect(body.status).toBe('queued');
    expect(body.links).toEqual({
      self: `/v1/queries/${body.id}`,
      events: expect.stringMatching(new RegExp(`^/v1/queries/${body.id}/events\\?token=v1\\.[^&]+$`)),
    });
    const job = await t.queue.queue.getJob(body.id);
    expect(job?.data).toMatchObject({ query_id: body.id });
    expect(job?.opts.attempts).toBe(3);
    const events = await t.events.readAfter(body.id, '0');
    expect(events.map((e) => e.event.type)).toEqual(['queued']);

    const view = await t.app.request(body.links.self, { headers: { authorization: `Bearer ${key}` } });
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({
      id: body.id,
      status: 'queued',
      query: 'What did I note about the garden?',
      answer: null,
      sources: [],
      cached: false,
      error: null,
    });
  });

  const badInputs: [string, () => Response | Promise<Response>, number, string][] = [
    ['a missing query', () => submit({}), 400, 'invalid_request'],
    ['an empty query', () => submit({ query: '' }), 400, 'invalid_request'],
    ['a whitespace-only query', () => submit({ query: ' \n\t ' }), 400, 'invalid_request'],
    ['a query over 4000 characters', () => submit({ query: 'x'.repeat(4001) }), 400, 'invalid_request'],
    ['a non-string query', () => submit({ query: 42 }), 400, 'invalid_request'],
    ['a body that is not an object', () => submit(['query']), 400, 'invalid_request'],
    ['unknown fields', () => submit({ query: 'hi', temperature: 2 }), 400, 'invalid_request'],
    ['malformed JSON', () => submit(null, { raw: '{"query": "hi"' }), 400, 'invalid_json'],
    [
      'a wrong content type',
      () =>
        submit(null, { raw: 'query=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'unsupported_media_type',
    ],
    ['a body over 64 KB', () => submit({ query: 'y'.repeat(70_000) }), 413, 'payload_too_large'],
    ['no API key', () => submit({ query: 'hi' }, { key: '' }), 401, 'unauthorized'],
    ['an invalid API key', () => submit({ query: 'hi' }, { key: 'ask_invalid' }), 401, 'unauthorized'],
    [
      'a malformed Idempotency-Key',
      () => submit({ query: 'hi' }, { headers: { 'idempotency-key': 'a b' } }),
      400,
      'invalid_request',
    ],
  ];

  for (const [what, send, status, code] of badInputs) {
    it(`answers ${status} ${code} to ${what} and enqueues nothing`, async () => {
      const before = await jobCount();
      await expectError(await send(), status, code);
      expect(await jobCount()).toBe(before);
    });
  }

  it('names the offending field', async () => {
    const body = await expectError(await submit({ query: 'hi', extra: 1 }), 400, 'invalid_request');
    expect(body.error.message).toMatch(/extra/);
  });

  it('returns the same query for a repeated Idempotency-Key, with one job', async () => {
    const before = await jobCount();
    const headers = { 'idempotency-key': 'retry-123' };
    const [a, b] = await Promise.all([
      submit({ query: 'When is the dentist?' }, { headers }),
      submit({ query: 'When is the dentist?' }, { headers }),
    ]);
    const c = await submit({ query: 'When is the dentist?' }, { headers });
    expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
    const ids = await Promise.all([a, b, c].map(async (r) => ((await r.json()) as { id: string }).id));
    expect(new Set(ids).size).toBe(1);
    expect(c.headers.get('idempotent-replayed')).toBe('true');
    expect(await jobCount()).toBe(before + 1);
  });

  it('refuses an Idempotency-Key reused with another question', async () => {
    await submit({ query: 'first' }, { headers: { 'idempotency-key': 'k-2' } });
    await expectError(
      await submit({ query: 'second' }, { headers: { 'idempotency-key': 'k-2' } }),
      409,
      'idempotency_key_reused',
    );
  });

  it('keeps idempotency keys per user', async () => {
    const headers = { 'idempotency-key': 'shared-key' };
    const mine = (await (await submit({ query: 'q' }, { headers })).json()) as { id: string };
    const theirs = (await (await submit({ query: 'q' }, { headers, key: otherKey })).json()) as {
      id: string;
    };
    expect(mine.id).not.toBe(theirs.id);
  });
});

describe('GET /v1/queries/:id', () => {
  it("is 404 for another user's query on every route, and for unknown ids", async () => {
    const { id } = (await (await submit({ query: 'private question' })).json()) as { id: string };
    for (const path of [`/v1/queries/${id}`, `/v1/queries/${id}/events`, `/v1/queries/${id}?wait=1`]) {
      await expectError(
        await t.app.request(path, { headers: { authorization: `Bearer ${otherKey}` } }),
        404,
        'not_found',
      );
    }
    for (const path of [
      '/v1/queries/q_00000000000000000000000000000000',
      '/v1/queries/nope',
      '/v1/queries/nope/events',
    ]) {
      await expectError(
        await t.app.request(path, { headers: { authorization: `Bearer ${key}` } }),
        404,
        'not_found',
      );
    }
  });

  it('rejects a bad wait', async () => {
    const { id } = (await (await submit({ query: 'wait for me' })).json()) as { id: string };
    for (const wait of ['abc', '31', '-1']) {
      await expectError(
        await t.app.request(`/v1/queries/${id}?wait=${wait}`, {
          headers: { authorization: `Bearer ${key}` },
        }),
        400,
        'invalid_request',
      );
    }
  });

  it('long-polls until the wait runs out when nothing finishes', async () => {
    const { id } = (await (await submit({ query: 'nobody answers' })).json()) as { id: string };
    const started = Date.now();
    const res = await t.app.request(`/v1/queries/${id}?wait=1`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('queued');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('rejects a malformed Last-Event-ID', async () => {
    const { id } = (await (await submit({ query: 'resume me' })).json()) as { id: string };
    const res = await t.app.request(`/v1/queries/${id}/events`, {
      headers: { authorization: `Bearer ${key}`, 'last-event-id': 'garbage' },
    });
    await expectError(res, 400, 'invalid_request');
  });
});

describe('request ids, health and metrics', () => {
  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const sane = await t.app.request('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(sane.headers.get('x-request-id')).toBe('abc-123');
    const unsafe = await t.app.request('/healthz', { headers: { 'x-request-id': 'a b<script>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    await expectError(await t.app.request('/v2/nothing'), 404, 'not_found');
  });

  it('is ready when Redis and Postgres answer', async () => {
    const res = await t.app.request('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { redis: 'PONG', postgres: 'ok' } });
    expect((await t.app.request('/healthz')).status).toBe(200);
  });

  it('exposes Prometheus metrics with request durations', async () => {
    const text = await (await t.app.request('/metrics')).text();
    expect(text).toMatch(/assistant_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/queries"/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
  });
});

describe('when Redis is unreachable', () => {
  it('answers 503 with Retry-After fast, loses nothing, and recovers by itself', async () => {
    const proxy = await startTcpProxy({ port: Number(new URL(testServers.redisUrl).port || 6379) });
    const flaky = await createTestApp('api-flaky', { redisUrl: proxy.url('redis') });
    try {
      const user = await flaky.createUser();
      const send = () =>
        flaky.app.request('/v1/queries', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${user.api_key}`,
            'content-type': 'application/json',
            'idempotency-key': 'k',
          },
          body: JSON.stringify({ query: 'will this be lost?' }),
        });
      proxy.setMode('reset');
      const started = Date.now();
      const res = await send();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('dependency_unavailable');
      expect((await flaky.app.request('/readyz')).status).toBe(503);

      proxy.setMode('pass');
      await expect
        .poll(async () => (await flaky.app.request('/readyz')).status, { timeout: 10_000 })
        .toBe(200);
      const retried = await send();
      expect(retried.status).toBe(202);
      expect(retried.headers.get('idempotent-replayed')).toBeNull(); // the failed attempt left nothing
      const { id } = (await retried.json()) as { id: string };
      expect(await flaky.queue.queue.getJob(id)).toBeDefined();
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });
});
