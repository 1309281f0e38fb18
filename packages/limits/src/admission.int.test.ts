import type { TierLimits } from '@assistant/config';
import { createKeys, type Keys } from '@assistant/queue';
import { createTestRedis, type TestRedis } from '@assistant/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AdmissionOptions, type AdmitInput, createAdmission } from './admission.ts';
import { createBudget } from './budget.ts';
import { keyTtls, openConnections, testClock } from './int-test-helpers.ts';

let t: TestRedis;
let replicas: Redis[];
let prefix: string;
let keys: Keys;
let testNumber = 0;

beforeAll(async () => {
  t = await createTestRedis('limits-admission');
  replicas = openConnections(t.url, 5);
});
beforeEach(() => {
  // A prefix per test: the global window and budget are shared by every user of a prefix.
  prefix = `${t.prefix}:${++testNumber}`;
  keys = createKeys(prefix);
});
afterEach(async () => {
  // Every key any script wrote in this test must expire on its own.
  for (const [key, ttl] of await keyTtls(t.redis, prefix)) expect(ttl, key).toBeGreaterThan(0);
});
afterAll(async () => {
  for (const replica of replicas ?? []) replica.disconnect();
  await t?.cleanup();
});

const FREE: TierLimits = {
  perMinute: 10,
  perHour: 100,
  perDay: 500,
  dailyBudgetMicros: 5_000_000,
  maxInFlight: 5,
  maxRunning: 2,
};
const ROOMY: TierLimits = {
  perMinute: 1_000,
  perHour: 1_000,
  perDay: 1_000,
  dailyBudgetMicros: 1_000_000_000,
  maxInFlight: 1_000,
  maxRunning: 10,
};
const ROOMY_GLOBAL = { perHour: 1_000_000, dailyBudgetMicros: 1_000_000_000_000 };
// 2030-01-01T00:00:00Z: aligned to every bucket and to a UTC day.
const BASE = Date.UTC(2030, 0, 1);

let queryNumber = 0;
function request(limits: Partial<TierLimits>, extra: Partial<AdmitInput> = {}): AdmitInput {
  return {
    userId: 'u1',
    queryId: `q${++queryNumber}`,
    limits: { ...ROOMY, ...limits },
    global: ROOMY_GLOBAL,
    ...extra,
  };
}

/** `count` simultaneous admissions spread over five connections (five API replicas). */
async function burst(count: number, make: (i: number) => AdmitInput, options?: AdmissionOptions) {
  const admissions = replicas.map((replica) => createAdmission(replica, keys, options));
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => admissions[i % admissions.length]!.admit(make(i))),
  );
  return {
    admitted: results.filter((r) => r.allowed).length,
    refusals: results.flatMap((r) => (r.allowed ? [] : [r])),
  };
}

describe('concurrent admissions from several replicas', () => {
  it('admits exactly the minute limit of 50 simultaneous requests', async () => {
    const { admitted, refusals } = await burst(50, () => request({ perMinute: 10 }));
    expect(admitted).toBe(10);
    expect(refusals).toHaveLength(40);
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ code: 'rate_limited', limit: 'user_minute' });
    }
  });

  it('admits exactly the hour limit', async () => {
    const { admitted, refusals } = await burst(50, () => request({ perHour: 10 }));
    expect(admitted).toBe(10);
    expect(new Set(refusals.map((r) => r.limit))).toEqual(new Set(['user_hour']));
  });

  it('admits exactly the day limit', async () => {
    const { admitted, refusals } = await burst(50, () => request({ perDay: 10 }));
    expect(admitted).toBe(10);
    expect(new Set(refusals.map((r) => r.limit))).toEqual(new Set(['user_day']));
  });

  it('admits exactly the global hourly limit across 25 users', async () => {
    const { admitted, refusals } = await burst(50, (i) =>
      request({}, { userId: `user-${i % 25}`, global: { ...ROOMY_GLOBAL, perHour: 10 } }),
    );
    expect(admitted).toBe(10);
    expect(new Set(refusals.map((r) => r.limit))).toEqual(new Set(['global_hour']));
  });

  it('admits exactly the in-flight cap', async () => {
    const { admitted, refusals } = await burst(50, () => request({ maxInFlight: 3 }));
    expect(admitted).toBe(3);
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ code: 'too_many_in_flight', limit: 'in_flight' });
    }
    expect(await t.redis.zcard(keys.limitsInFlight('u1'))).toBe(3);
  });

  it('keeps users apart', async () => {
    const { admitted } = await burst(60, (i) => request({ perMinute: 10 }, { userId: `user-${i % 3}` }));
    expect(admitted).toBe(30);
  });
});

describe('refusals', () => {
  it('counts nothing when refused', async () => {
    const admission = createAdmission(t.redis, keys);
    await burst(30, () => request({ perMinute: 10, perHour: 100 }));
    const { state } = await admission.peek(request({ perMinute: 10, perHour: 100 }));
    expect(state.user_minute.remaining).toBe(0);
    expect(state.user_hour.remaining).toBe(90);
    expect(state.global_hour.remaining).toBe(ROOMY_GLOBAL.perHour - 10);
    expect(state.in_flight?.remaining).toBe(ROOMY.maxInFlight - 10);
  });

  it('refuses everything when a limit is 0', async () => {
    const result = await createAdmission(t.redis, keys).admit(request({ perDay: 0 }));
    expect(result).toMatchObject({ allowed: false, code: 'rate_limited', limit: 'user_day' });
  });

  it('names the limit that frees last when several refuse', async () => {
    const clock = testClock(BASE + 500);
    const admission = createAdmission(t.redis, keys, { now: clock.now });
    for (let i = 0; i < 10; i++) await admission.admit(request({ perMinute: 10, perDay: 10 }));
    const result = await admission.admit(request({ perMinute: 10, perDay: 10 }));
    expect(result).toMatchObject({ allowed: false, limit: 'user_day' });
  });
});

describe('window edges', () => {
  it('lets nothing through right after a fixed-minute boundary once the rolling minute is full', async () => {
    const clock = testClock(BASE + 59_900);
    const options = { now: clock.now };
    expect((await burst(10, () => request({ perMinute: 10 }), options)).admitted).toBe(10);
    clock.set(BASE + 60_100); // a fixed-window limiter would start a fresh count here
    expect((await burst(50, () => request({ perMinute: 10 }), options)).admitted).toBe(0);
    clock.set(BASE + 59_900 + 60_000); // still inside the conservative window (60 s + 1 bucket)
    expect((await burst(5, () => request({ perMinute: 10 }), options)).admitted).toBe(0);
    clock.set(BASE + 121_000); // the whole bucket of second 59 has left the window
    expect((await burst(50, () => request({ perMinute: 10 }), options)).admitted).toBe(10);
  });

  it('never admits more than the limit in any rolling minute under random traffic', async () => {
    const clock = testClock(BASE + 12_345);
    const admission = createAdmission(t.redis, keys, { now: clock.now });
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const admittedAt: number[] = [];
    const end = BASE + 12_345 + 10 * 60_000;
    while (clock.now() < end) {
      // Bursts of up to 8 at once, then a gap of up to 3 s: far more demand than 10/min.
      const size = 1 + Math.floor(random() * 8);
      for (let i = 0; i < size; i++) {
        if ((await admission.admit(request({ perMinute: 10 }))).allowed) admittedAt.push(clock.now());
      }
      clock.advance(Math.floor(random() * 3_000));
    }
    for (const at of admittedAt) {
      const inWindow = admittedAt.filter((other) => other > at - 60_000 && other <= at).length;
      expect(inWindow).toBeLessThanOrEqual(10);
    }
    // Conservative, not starving: about 10 per 61 s over 10 minutes.
    expect(admittedAt.length).toBeGreaterThanOrEqual(90);
  });
});

describe('Retry-After', () => {
  it('is the seconds until the minute window frees, to the second', async () => {
    const clock = testClock(BASE + 500);
    const admission = createAdmission(t.redis, keys, { now: clock.now });
    for (let i = 0; i < 10; i++) await admission.admit(request({ perMinute: 10 }));
    clock.set(BASE + 30_000);
    const refused = await admission.admit(request({ perMinute: 10 }));
    if (refused.allowed) throw new Error('expected a refusal');
    // Second 0's bucket stops counting at 61 s.
    expect(refused.retryAfterSeconds).toBe(31);
    expect(refused.headers['Retry-After']).toBe('31');
    clock.set(BASE + 30_000 + 30_000);
    expect((await admission.admit(request({ perMinute: 10 }))).allowed).toBe(false);
    clock.set(BASE + 30_000 + 31_000);
    expect((await admission.admit(request({ perMinute: 10 }))).allowed).toBe(true);
  });

  it('is the seconds until the hour window frees', async () => {
    const clock = testClock(BASE + 500);
    const admission = createAdmission(t.redis, keys, { now: clock.now });
    for (let i = 0; i < 10; i++) await admission.admit(request({ perHour: 10 }));
    clock.set(BASE + 1_800_000);
    const refused = await admission.admit(request({ perHour: 10 }));
    expect(refused).toMatchObject({ allowed: false, limit: 'user_hour', retryAfterSeconds: 1_860 });
  });

  it('is a short hint when only a release frees the in-flight cap', async () => {
    const admission = createAdmission(t.redis, keys, { releaseRetrySeconds: 3 });
    await admission.admit(request({ maxInFlight: 1 }));
    const refused = await admission.admit(request({ maxInFlight: 1 }));
    expect(refused).toMatchObject({ allowed: false, limit: 'in_flight', retryAfterSeconds: 3 });
  });
});

describe('budgets at admission', () => {
  it('refuses a user whose budget is spent until UTC midnight', async () => {
    const clock = testClock(BASE + 23 * 3_600_000);
    const budget = createBudget(t.redis, keys, { now: clock.now });
    await budget.settle({ userId: 'u1', queryId: 'spent-it', actualMicros: 5_000_000 });
    const admission = createAdmission(t.redis, keys, { now: clock.now });
    const refused = await admission.admit(request({ dailyBudgetMicros: 5_000_000 }));
    expect(refused).toMatchObject({
      allowed: false,
      code: 'budget_exceeded',
      limit: 'user_budget',
      retryAfterSeconds: 3_600,
    });
    // A cache hit costs nothing, so it still passes.
    const hit = await admission.admit(
      request({ dailyBudgetMicros: 5_000_000 }, { inFlight: false, budget: false }),
    );
    expect(hit.allowed).toBe(true);
    clock.set(BASE + 24 * 3_600_000);
    expect((await admission.admit(request({ dailyBudgetMicros: 5_000_000 }))).allowed).toBe(true);
  });

  it('refuses briefly while open reservations hold the budget', async () => {
    const budget = createBudget(t.redis, keys);
    const held = await budget.reserve({
      userId: 'u1',
      queryId: 'holding',
      amountMicros: 5_000_000,
      userBudgetMicros: 5_000_000,
      globalBudgetMicros: 1_000_000_000,
    });
    expect(held.ok).toBe(true);
    const refused = await createAdmission(t.redis, keys).admit(request({ dailyBudgetMicros: 5_000_000 }));
    expect(refused).toMatchObject({ allowed: false, limit: 'user_budget', retryAfterSeconds: 5 });
  });

  it('refuses every user once the global budget is spent', async () => {
    const budget = createBudget(t.redis, keys);
    await budget.settle({ userId: 'someone-else', queryId: 'big', actualMicros: 1_000_000 });
    const refused = await createAdmission(t.redis, keys).admit(
      request({}, { global: { ...ROOMY_GLOBAL, dailyBudgetMicros: 1_000_000 } }),
    );
    expect(refused).toMatchObject({ allowed: false, code: 'budget_exceeded', limit: 'global_budget' });
  });
});

describe('RateLimit headers', () => {
  const SF_POLICY = /^"[a-z-]+";q=\d+(;qu="[a-z-]+")?(;w=\d+)?(, "[a-z-]+";q=\d+(;qu="[a-z-]+")?(;w=\d+)?)*$/;
  const SF_LIMIT = /^"[a-z-]+";r=\d+;t=\d+$/;

  it('advertises every policy of the tier and names the window closest to exhaustion', async () => {
    const clock = testClock(BASE + 500);
    const admission = createAdmission(t.redis, keys, { now: clock.now });
    // Cache hits (no in-flight slot), so the free tier's 5 in flight do not refuse the 6th.
    const free = () =>
      request(FREE, { global: { perHour: 1_000, dailyBudgetMicros: 100_000_000 }, inFlight: false });
    let result = await admission.admit(free());
    for (let i = 0; i < 6; i++) result = await admission.admit(free());
    expect(result.allowed).toBe(true);
    expect(result.headers['RateLimit-Policy']).toBe(
      '"minute";q=10;w=60, "hour";q=100;w=3600, "day";q=500;w=86400, "global-hour";q=1000;w=3600, ' +
        '"in-flight";q=5;qu="concurrent-requests"',
    );
    // 7 of 10 used this minute; second 0's bucket leaves the window at 61 s.
    expect(result.headers.RateLimit).toBe('"minute";r=3;t=61');
    expect(result.headers['Retry-After']).toBeUndefined();
  });

  it('names the limit that refused, with r=0 and t equal to Retry-After', async () => {
    const admission = createAdmission(t.redis, keys);
    for (let i = 0; i < 10; i++) await admission.admit(request({ perMinute: 10 }));
    const refused = await admission.admit(request({ perMinute: 10 }));
    expect(refused.allowed).toBe(false);
    expect(refused.headers['RateLimit-Policy']).toMatch(SF_POLICY);
    expect(refused.headers.RateLimit).toMatch(SF_LIMIT);
    const [, reset] = refused.headers.RateLimit.match(/^"minute";r=0;t=(\d+)$/) ?? [];
    expect(reset).toBe(refused.headers['Retry-After']);
    expect(Number(reset)).toBeGreaterThanOrEqual(1);
    expect(Number(reset)).toBeLessThanOrEqual(61);
  });

  it('names the global window when it refuses', async () => {
    const admission = createAdmission(t.redis, keys);
    const global = { ...ROOMY_GLOBAL, perHour: 1 };
    await admission.admit(request({}, { userId: 'a', global }));
    const refused = await admission.admit(request({}, { userId: 'b', global }));
    expect(refused.headers.RateLimit).toMatch(/^"global-hour";r=0;t=\d+$/);
  });
});

describe('in-flight set', () => {
  it('frees a slot on release', async () => {
    const admission = createAdmission(t.redis, keys);
    const first = request({ maxInFlight: 2 });
    await admission.admit(first);
    await admission.admit(request({ maxInFlight: 2 }));
    expect((await admission.admit(request({ maxInFlight: 2 }))).allowed).toBe(false);
    await admission.release(first.userId, first.queryId);
    expect((await admission.admit(request({ maxInFlight: 2 }))).allowed).toBe(true);
  });

  it('prunes entries whose release was lost once they expire', async () => {
    const clock = testClock(BASE);
    const admission = createAdmission(t.redis, keys, { now: clock.now, inFlightTtlMs: 1_000 });
    await admission.admit(request({ maxInFlight: 2 }));
    await admission.admit(request({ maxInFlight: 2 }));
    clock.advance(999);
    expect((await admission.admit(request({ maxInFlight: 2 }))).allowed).toBe(false);
    clock.advance(2);
    expect((await admission.admit(request({ maxInFlight: 2 }))).allowed).toBe(true);
    expect(await t.redis.zcard(keys.limitsInFlight('u1'))).toBe(1);
  });

  it('holds one slot for a query admitted twice', async () => {
    const admission = createAdmission(t.redis, keys);
    const same = request({ maxInFlight: 1 });
    expect((await admission.admit(same)).allowed).toBe(true);
    expect((await admission.admit(same)).allowed).toBe(true);
    expect(await t.redis.zcard(keys.limitsInFlight('u1'))).toBe(1);
  });

  it('lets a cache hit count against the windows without taking a slot', async () => {
    const admission = createAdmission(t.redis, keys);
    await admission.admit(request({ maxInFlight: 1, perMinute: 3 }));
    const hit = await admission.admit(request({ maxInFlight: 1, perMinute: 3 }, { inFlight: false }));
    expect(hit.allowed).toBe(true);
    expect(await t.redis.zcard(keys.limitsInFlight('u1'))).toBe(1);
    const { state } = await admission.peek(request({ maxInFlight: 1, perMinute: 3 }));
    expect(state.user_minute.remaining).toBe(1);
  });
});

describe('recording an admitted request', () => {
  it('writes the record (log entry and copy) in the same call only when it admits', async () => {
    const admission = createAdmission(t.redis, keys, { now: testClock(BASE).now });
    const record = (queryId: string) => ({
      log: keys.servedHits(),
      copy: keys.servedRow(queryId),
      value: `{"id":"${queryId}"}`,
      ttlMs: 60_000,
    });
    const admitted = request({ perMinute: 1 });
    expect((await admission.admit({ ...admitted, record: record(admitted.queryId) })).allowed).toBe(true);
    const refused = request({ perMinute: 1 });
    expect((await admission.admit({ ...refused, record: record(refused.queryId) })).allowed).toBe(false);
    const entries = await t.redis.xrange(keys.servedHits(), '-', '+');
    expect(entries.map(([, fields]) => fields)).toEqual([
      ['id', admitted.queryId, 'row', `{"id":"${admitted.queryId}"}`],
    ]);
    expect(await t.redis.get(keys.servedRow(admitted.queryId))).toBe(`{"id":"${admitted.queryId}"}`);
    expect(await t.redis.pttl(keys.servedRow(admitted.queryId))).toBeGreaterThan(59_000);
    expect(await t.redis.exists(keys.servedRow(refused.queryId))).toBe(0);
    // A dry run (the usage endpoint's peek) records nothing either.
    await admission.peek({ ...request({}), record: record('q_peek') });
    expect(await t.redis.xlen(keys.servedHits())).toBe(1);
    // The log never expires on its own (a writer empties it); not this test's to keep.
    await t.redis.del(keys.servedHits());
  });
});

describe('keys', () => {
  it('gives every key the admission script writes a TTL', async () => {
    const admission = createAdmission(t.redis, keys);
    await burst(20, (i) => request({ perMinute: 5 }, { userId: `user-${i % 2}` }));
    await admission.admit(request({}));
    const ttls = await keyTtls(t.redis, prefix);
    // minute, hour, day and in-flight of 3 users, plus the global window
    expect(ttls.size).toBe(13);
    for (const [key, ttl] of ttls) expect(ttl, key).toBeGreaterThan(0);
  });
});
