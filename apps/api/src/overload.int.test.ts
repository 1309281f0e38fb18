import { startTcpProxy, type TcpProxy, testServers } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

// The overload guard in the real app: a process that is saturated refuses new submits and note
// writes at once with 503 `overloaded` and Retry-After, and keeps answering polls and health.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let proxy: TcpProxy;
let t: TestApp;
let key: string;

beforeAll(async () => {
  const database = new URL(testServers.databaseUrl);
  proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
  t = await createTestApp('overload', {
    databasePort: proxy.port,
    // The delay limit is well above what a busy CI host's scheduling adds (at 100 ms, parallel test
    // files made this process lag past it, and the in-progress test saw event_loop_delay instead).
    env: { API_MAX_IN_PROGRESS: '2', API_MAX_EVENT_LOOP_DELAY_MS: '500', API_KEY_CACHE_TTL_MS: '60000' },
  });
  key = (await t.createUser()).api_key;
});

afterAll(async () => {
  proxy?.setMode('pass');
  await t?.close();
  await proxy?.close();
});

const headers = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const submit = (query: string) =>
  t.app.request('/v1/queries', { method: 'POST', headers: headers(), body: JSON.stringify({ query }) });

async function expectOverloaded(res: Response, reason: string) {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('overloaded');
  expect(body.error.message).toContain(reason);
}

describe('the overload guard', () => {
  it('refuses a third submit at once while two are held in progress, and admits again after', async () => {
    // Warm the key cache, so the held submits wait on Postgres inside the submit itself.
    expect((await t.app.request('/v1/usage', { headers: headers() })).status).toBe(200);
    proxy.setMode('stall');
    const held = [submit('first held question'), submit('second held question')];
    await new Promise((resolve) => setTimeout(resolve, 200));

    const started = performance.now();
    const refused = await submit('one too many');
    expect(performance.now() - started).toBeLessThan(500);
    await expectOverloaded(refused, 'in_progress');
    const noteWrite = await t.app.request('/v1/notes', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ title: 't', body: 'b' }),
    });
    await expectOverloaded(noteWrite, 'in_progress');
    // Health is not gated.
    expect((await t.app.request('/healthz')).status).toBe(200);

    proxy.setMode('pass');
    const statuses = await Promise.all(held.map(async (res) => (await res).status));
    for (const status of statuses) expect([200, 202, 503]).toContain(status);
    expect((await submit('after the pressure')).status).toBe(202);
    const metrics = await (await t.app.request('/metrics')).text();
    expect(metrics).toMatch(/assistant_overload_refusals_total\{reason="in_progress"[^}]*\} 2\b/);
  });

  it('refuses submits right after the event loop was blocked, then reopens by itself', async () => {
    const until = performance.now() + 1_500;
    while (performance.now() < until) {
      // Busy: the event loop is blocked for 1.5 s, three times the limit.
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expectOverloaded(await submit('right after a stall'), 'event_loop_delay');
    await expect
      .poll(async () => (await submit('once the loop is calm')).status, { timeout: 10_000, interval: 250 })
      .toBe(202);
  });
});
