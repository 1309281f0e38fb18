import { queries } from '@assistant/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

// The backlog gate in the real app, on real Redis and BullMQ, with no worker draining the queue:
// once QUEUE_MAX_WAITING questions wait, a new one is refused at once with 503 `overloaded` and
// Retry-After, and nothing of it is written; exact-cache hits need no worker and still pass.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let t: TestApp;
let key: string;

beforeAll(async () => {
  t = await createTestApp('backlog', {
    env: { QUEUE_MAX_WAITING: '3', QUEUE_BACKLOG_REFRESH_MS: '20' },
  });
  key = (await t.createUser('internal')).api_key;
});

afterAll(async () => {
  await t?.close();
});

const headers = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const submit = (query: string) =>
  t.app.request('/v1/queries', { method: 'POST', headers: headers(), body: JSON.stringify({ query }) });

describe('the backlog gate', () => {
  it('accepts up to QUEUE_MAX_WAITING waiting questions, then refuses new ones at once', async () => {
    for (let i = 1; i <= 3; i++) expect((await submit(`waiting question ${i}`)).status).toBe(202);
    expect(await t.queue.queue.getWaitingCount()).toBe(3);

    const started = performance.now();
    const refused = await submit('one question too many');
    expect(performance.now() - started).toBeLessThan(200);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(2);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('overloaded');
    expect(body.error.message).toContain('3 questions are already waiting');
    // Nothing of the refused question was written: no row, no job.
    expect(await t.queue.queue.getWaitingCount()).toBe(3);
    const rows = await t.db.db.select({ query: queries.query }).from(queries);
    expect(rows.map((row) => row.query)).not.toContain('one question too many');

    const metrics = await (await t.app.request('/metrics')).text();
    expect(metrics).toMatch(/assistant_overload_refusals_total\{reason="backlog"[^}]*\} 1\b/);
  });

  it('admits again once the backlog drains below the cap (read again after the refresh)', async () => {
    const [oldest] = await t.queue.queue.getWaiting(0, 0);
    await oldest!.remove();
    await expect
      .poll(async () => (await submit('room again')).status, { timeout: 5_000, interval: 50 })
      .toBe(202);
    expect((await submit('and full again')).status).toBe(503);
  });
});
