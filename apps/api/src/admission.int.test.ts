import type { AddressInfo } from 'node:net';
import { parseRateLimitField, type RateLimitItem } from '@assistant/testing';
import { serve } from '@hono/node-server';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

// Admission through the HTTP API as built in main.ts (real Redis, real Postgres), with no worker
// running: every accepted question stays queued, so the in-flight cap is easy to reach.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type User = { id: string; api_key: string };
type ErrorBody = { error: { code: string; message: string; details?: { limit?: string } } };
type Usage = {
  tier: string;
  totals: { queries: number; cache_hits: number; cost_usd: number };
  limits: Record<
    'minute' | 'hour' | 'day' | 'in_flight',
    { limit: number; remaining: number; reset_seconds: number }
  >;
  budget: { daily_usd: number; spent_usd: number; reserved_usd: number; remaining_usd: number };
};

let t: TestApp;
let sql: postgres.Sql;
let question = 0;

beforeAll(async () => {
  t = await createTestApp('admission');
  sql = postgres(t.database.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await t?.close();
});

/** A free user; `limits` is an admin override set before the key is first used (so not cached). */
async function freeUser(limits?: Record<string, number>): Promise<User> {
  const user = await t.createUser('free');
  if (limits) expect((await patchLimits(user.id, limits)).status).toBe(200);
  return user;
}

function patchLimits(userId: string, limits: Record<string, number>) {
  return t.app.request(`/v1/admin/users/${userId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ limits }),
  });
}

/** A question nobody asked before in this file (so the answer cache and single-flight stay out). */
function distinctQuestion(): string {
  question += 1;
  return `Admission question number ${question}: what did I write about topic ${question}?`;
}

function submit(user: User, query = distinctQuestion()) {
  return t.app.request('/v1/queries', {
    method: 'POST',
    headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
}

async function usageOf(user: User): Promise<Usage> {
  const res = await t.app.request('/v1/usage', { headers: { authorization: `Bearer ${user.api_key}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Usage;
}

async function rowsOf(user: User): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from queries where user_id = ${user.id}`;
  return row!.n;
}

async function jobCount(): Promise<number> {
  const counts = await t.queue.queue.getJobCounts(
    'waiting',
    'active',
    'delayed',
    'completed',
    'failed',
    'prioritized',
    'waiting-children',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function item(items: RateLimitItem[], name: string): RateLimitItem {
  const found = items.find((i) => i.name === name);
  if (!found) throw new Error(`no "${name}" in ${JSON.stringify(items)}`);
  return found;
}

/** Checks a refusal's status, code, headers and body; returns the parsed RateLimit item. */
async function expectRefusal(res: Response, code: string, limit: string) {
  expect(res.status).toBe(429);
  const body = (await res.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.details?.limit).toBe(limit);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  const policy = parseRateLimitField(res.headers.get('ratelimit-policy'));
  const [named, ...more] = parseRateLimitField(res.headers.get('ratelimit'));
  expect(more).toEqual([]);
  return { retryAfter, policy, named: named! };
}

describe('admission through POST /v1/queries (free tier)', () => {
  it('sends RateLimit on each 202 and refuses the 11th question of a minute with 429 rate_limited', async () => {
    // The in-flight cap (5) would refuse first with no worker running; lift it for this user.
    const user = await freeUser({ maxInFlight: 100 });
    const jobsBefore = await jobCount();
    for (let i = 0; i < 10; i++) {
      const res = await submit(user);
      expect(res.status).toBe(202);
      const [named, ...more] = parseRateLimitField(res.headers.get('ratelimit'));
      expect(more).toEqual([]);
      expect(named).toMatchObject({ name: 'minute', params: { r: 9 - i } });
      expect(named!.params.t).toBeGreaterThanOrEqual(0);
      expect(named!.params.t).toBeLessThanOrEqual(61);
      expect(res.headers.get('retry-after')).toBeNull();
    }

    const refused = await submit(user);
    const { retryAfter, policy, named } = await expectRefusal(refused, 'rate_limited', 'user_minute');
    expect(retryAfter).toBeLessThanOrEqual(61);
    expect(named).toEqual({ name: 'minute', params: { r: 0, t: retryAfter } });
    expect(item(policy, 'minute').params).toEqual({ q: 10, w: 60 });
    expect(item(policy, 'hour').params).toEqual({ q: 100, w: 3600 });
    expect(item(policy, 'day').params).toEqual({ q: 500, w: 86400 });
    expect(item(policy, 'in-flight').params).toEqual({ q: 100, qu: 'concurrent-requests' });

    // The refusal placed nothing.
    expect(await rowsOf(user)).toBe(10);
    expect(await jobCount()).toBe(jobsBefore + 10);
    const usage = await usageOf(user);
    expect(usage.limits.minute).toMatchObject({ limit: 10, remaining: 0 });
    expect(usage.limits.hour).toMatchObject({ limit: 100, remaining: 90 });
    expect(usage.limits.in_flight).toMatchObject({ limit: 100, remaining: 90 });
  });

  it('refuses the 6th queued question with 429 too_many_in_flight, naming the in-flight limit', async () => {
    const user = await freeUser();
    const jobsBefore = await jobCount();
    for (let i = 0; i < 5; i++) expect((await submit(user)).status).toBe(202);

    const refused = await submit(user);
    const { retryAfter, policy, named } = await expectRefusal(refused, 'too_many_in_flight', 'in_flight');
    expect(retryAfter).toBeLessThanOrEqual(5);
    expect(named).toEqual({ name: 'in-flight', params: { r: 0, t: retryAfter } });
    expect(item(policy, 'in-flight').params).toEqual({ q: 5, qu: 'concurrent-requests' });
    expect(item(policy, 'minute').params).toEqual({ q: 10, w: 60 });

    expect(await rowsOf(user)).toBe(5);
    expect(await jobCount()).toBe(jobsBefore + 5);
    // A refusal counts against no window.
    const usage = await usageOf(user);
    expect(usage.limits.minute).toMatchObject({ limit: 10, remaining: 5 });
    expect(usage.limits.in_flight).toMatchObject({ limit: 5, remaining: 0 });
  });

  it('refuses a user whose daily budget is spent with 429 budget_exceeded once the override applies', async () => {
    const user = await freeUser();
    expect((await submit(user)).status).toBe(202);
    expect((await patchLimits(user.id, { dailyBudgetMicros: 0 })).status).toBe(200);
    // test-app caches key lookups (and with them the limits) for API_KEY_CACHE_TTL_MS = 1000.
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const jobsBefore = await jobCount();
    const refused = await submit(user);
    const { retryAfter, policy, named } = await expectRefusal(refused, 'budget_exceeded', 'user_budget');
    // Spent money comes back at UTC midnight, not sooner.
    const now = new Date();
    const toMidnight =
      (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
    expect(retryAfter).toBeGreaterThan(toMidnight - 30);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(toMidnight) + 1);
    expect(item(policy, 'minute').params).toEqual({ q: 10, w: 60 });
    expect(named.name).toBe('minute');
    expect(named.params.r).toBe(9);

    expect(await rowsOf(user)).toBe(1);
    expect(await jobCount()).toBe(jobsBefore);
    const usage = await usageOf(user);
    expect(usage.budget).toMatchObject({ daily_usd: 0, remaining_usd: 0 });
    expect(usage.limits.minute).toMatchObject({ remaining: 9 });
  });

  it('admits exactly 10 of 50 concurrent distinct questions over real HTTP, and /v1/usage agrees', async () => {
    const user = await freeUser({ maxInFlight: 100 });
    const jobsBefore = await jobCount();
    const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${url}/v1/queries`, {
            method: 'POST',
            headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ query: distinctQuestion() }),
          }),
        ),
      );
      const bodies = await Promise.all(
        responses.map(async (r) => ({ status: r.status, body: await r.json() })),
      );
      const accepted = bodies.filter((b) => b.status === 202);
      const refused = bodies.filter((b) => b.status !== 202);
      expect(accepted).toHaveLength(10);
      expect(refused).toHaveLength(40);
      for (const r of refused) {
        expect(r.status).toBe(429);
        expect((r.body as ErrorBody).error.code).toBe('rate_limited');
      }
      for (const r of responses) expect(r.headers.get('ratelimit')).toMatch(/^"minute";r=\d+;t=\d+$/);
      expect(new Set(accepted.map((a) => (a.body as { id: string }).id)).size).toBe(10);

      expect(await rowsOf(user)).toBe(10);
      expect(await jobCount()).toBe(jobsBefore + 10);
      const usage = await usageOf(user);
      expect(usage.tier).toBe('free');
      expect(usage.limits.minute).toMatchObject({ limit: 10, remaining: 0 });
      expect(usage.limits.minute.reset_seconds).toBeGreaterThan(0);
      expect(usage.limits.hour).toMatchObject({ limit: 100, remaining: 90 });
      expect(usage.limits.day).toMatchObject({ limit: 500, remaining: 490 });
      expect(usage.limits.in_flight).toMatchObject({ limit: 100, remaining: 90 });
      // Nothing was answered, so nothing was spent or reserved.
      expect(usage.budget).toMatchObject({ daily_usd: 5, spent_usd: 0, reserved_usd: 0, remaining_usd: 5 });
      expect(usage.totals).toMatchObject({ queries: 0, cache_hits: 0, cost_usd: 0 });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
