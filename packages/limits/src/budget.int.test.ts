import { createKeys, type Keys } from '@assistant/queue';
import { createTestRedis, type TestRedis } from '@assistant/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BudgetOptions, createBudget, type ReserveInput } from './budget.ts';
import { keyTtls, openConnections, testClock } from './int-test-helpers.ts';

let t: TestRedis;
let workers: Redis[];
let prefix: string;
let keys: Keys;
let testNumber = 0;

beforeAll(async () => {
  t = await createTestRedis('limits-budget');
  workers = openConnections(t.url, 4);
});
beforeEach(() => {
  prefix = `${t.prefix}:${++testNumber}`;
  keys = createKeys(prefix);
});
afterEach(async () => {
  for (const [key, ttl] of await keyTtls(t.redis, prefix)) expect(ttl, key).toBeGreaterThan(0);
});
afterAll(async () => {
  for (const worker of workers ?? []) worker.disconnect();
  await t?.cleanup();
});

const USD = 1_000_000;
const BASE = Date.UTC(2030, 0, 1);

function hold(queryId: string, amountMicros: number, extra: Partial<ReserveInput> = {}): ReserveInput {
  return {
    userId: 'u1',
    queryId,
    amountMicros,
    userBudgetMicros: 5 * USD,
    globalBudgetMicros: 100 * USD,
    ...extra,
  };
}

describe('reserve', () => {
  it('refuses a user at $4.99 of $5 a question that may cost $0.02', async () => {
    const budget = createBudget(t.redis, keys);
    await budget.settle({ userId: 'u1', queryId: 'earlier', actualMicros: 4_990_000 });
    const result = await budget.reserve(hold('q1', 20_000));
    expect(result).toEqual({ ok: false, scope: 'user', remainingMicros: 10_000 });
    expect(await budget.spent('u1')).toMatchObject({ userMicros: 4_990_000, userReservedMicros: 0 });
  });

  it('lets exactly one of two concurrent reservations through when the budget fits one', async () => {
    const budgets = workers.map((worker) => createBudget(worker, keys));
    const results = await Promise.all([
      budgets[0]!.reserve(hold('a', 3 * USD)),
      budgets[1]!.reserve(hold('b', 3 * USD)),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toEqual({ ok: false, scope: 'user', remainingMicros: 2 * USD });
  });

  it('admits exactly as many of 40 concurrent reservations as fit', async () => {
    const budgets = workers.map((worker) => createBudget(worker, keys));
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => budgets[i % budgets.length]!.reserve(hold(`q${i}`, 700_000))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(7); // 7 × $0.70 ≤ $5 < 8 × $0.70
    expect((await createBudget(t.redis, keys).spent('u1')).userReservedMicros).toBe(4_900_000);
  });

  it('counts a reservation once when made twice for the same query', async () => {
    const budget = createBudget(t.redis, keys);
    expect(await budget.reserve(hold('q1', 1 * USD))).toEqual({ ok: true, alreadySettled: false });
    expect(await budget.reserve(hold('q1', 1 * USD))).toEqual({ ok: true, alreadySettled: false });
    expect(await budget.spent('u1')).toMatchObject({
      userReservedMicros: 1 * USD,
      globalReservedMicros: 1 * USD,
    });
  });

  it('enforces the global budget across users', async () => {
    const budget = createBudget(t.redis, keys);
    const global = { globalBudgetMicros: 1 * USD };
    expect((await budget.reserve(hold('a', 600_000, { userId: 'alice', ...global }))).ok).toBe(true);
    const refused = await budget.reserve(hold('b', 600_000, { userId: 'bob', ...global }));
    expect(refused).toEqual({ ok: false, scope: 'global', remainingMicros: 400_000 });
    await budget.settle({ userId: 'alice', queryId: 'a', actualMicros: 100_000 });
    expect((await budget.reserve(hold('b', 600_000, { userId: 'bob', ...global }))).ok).toBe(true);
  });

  it('says so, and reserves nothing, for a query already settled', async () => {
    const budget = createBudget(t.redis, keys);
    await budget.settle({ userId: 'u1', queryId: 'q1', actualMicros: 1_000 });
    expect(await budget.reserve(hold('q1', 1 * USD))).toEqual({ ok: true, alreadySettled: true });
    expect((await budget.spent('u1')).userReservedMicros).toBe(0);
  });

  it('rejects fractional or negative amounts', async () => {
    const budget = createBudget(t.redis, keys);
    await expect(budget.reserve(hold('q1', 0.5))).rejects.toThrow(RangeError);
    await expect(budget.settle({ userId: 'u1', queryId: 'q1', actualMicros: -1 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('settle', () => {
  it('moves the actual cost to spent and frees the rest of the reservation', async () => {
    const budget = createBudget(t.redis, keys);
    await budget.reserve(hold('q1', 20_000));
    expect(await budget.settle({ userId: 'u1', queryId: 'q1', actualMicros: 5_000 })).toEqual({
      settled: true,
      reservedMicros: 20_000,
    });
    expect(await budget.spent('u1')).toMatchObject({
      userMicros: 5_000,
      userReservedMicros: 0,
      globalMicros: 5_000,
      globalReservedMicros: 0,
    });
  });

  it('counts once when settled twice, even concurrently', async () => {
    const budgets = workers.map((worker) => createBudget(worker, keys));
    await budgets[0]!.reserve(hold('q1', 20_000));
    const results = await Promise.all(
      budgets.map((budget) => budget.settle({ userId: 'u1', queryId: 'q1', actualMicros: 7_000 })),
    );
    expect(results.filter((r) => r.settled)).toHaveLength(1);
    await budgets[0]!.settle({ userId: 'u1', queryId: 'q1', actualMicros: 7_000 });
    expect(await budgets[0]!.spent('u1')).toMatchObject({ userMicros: 7_000, globalMicros: 7_000 });
  });

  it('records the actual cost without a reservation, and above one', async () => {
    const budget = createBudget(t.redis, keys);
    await budget.settle({ userId: 'u1', queryId: 'cache-write', actualMicros: 1_234 });
    await budget.reserve(hold('q2', 1_000));
    await budget.settle({ userId: 'u1', queryId: 'q2', actualMicros: 3_000 });
    expect(await budget.spent('u1')).toMatchObject({ userMicros: 4_234, userReservedMicros: 0 });
  });
});

describe('expiry and days', () => {
  it('stops counting a reservation its worker never settled once it expires', async () => {
    const clock = testClock(BASE + 1_000);
    const options: BudgetOptions = { now: clock.now, reservationTtlMs: 60_000 };
    const budget = createBudget(t.redis, keys, options);
    expect((await budget.reserve(hold('dead-worker', 4 * USD))).ok).toBe(true);
    expect((await budget.reserve(hold('q2', 2 * USD))).ok).toBe(false);
    clock.advance(60_000);
    expect(await budget.spent('u1')).toMatchObject({ userReservedMicros: 0, globalReservedMicros: 0 });
    expect(await t.redis.hexists(keys.limitsUserBudget('u1'), 'r:dead-worker')).toBe(0);
    expect((await budget.reserve(hold('q2', 2 * USD))).ok).toBe(true);
    // The late worker still settles its real cost.
    expect(await budget.settle({ userId: 'u1', queryId: 'dead-worker', actualMicros: 1_000 })).toEqual({
      settled: true,
      reservedMicros: 0,
    });
    expect(await budget.spent('u1')).toMatchObject({ userMicros: 1_000, userReservedMicros: 2 * USD });
  });

  it('starts a fresh spend at UTC midnight', async () => {
    const clock = testClock(BASE + 86_400_000 - 60_000);
    const budget = createBudget(t.redis, keys, { now: clock.now });
    await budget.settle({ userId: 'u1', queryId: 'late', actualMicros: 5 * USD });
    expect((await budget.reserve(hold('q1', 1))).ok).toBe(false);
    expect((await budget.spent('u1')).day).toBe('2030-01-01');
    clock.advance(120_000);
    expect(await budget.spent('u1')).toMatchObject({ day: '2030-01-02', userMicros: 0, globalMicros: 0 });
    expect((await budget.reserve(hold('q1', 5 * USD))).ok).toBe(true);
  });
});

describe('zero-cost answers', () => {
  it('reserves, releases and settles zero micro-dollars (an offline answer) without error', async () => {
    const budget = createBudget(t.redis, keys);
    expect((await budget.reserve(hold('q-zero', 0))).ok).toBe(true);
    expect(await budget.settle({ userId: 'u1', queryId: 'q-zero', actualMicros: 0 })).toEqual({
      settled: true,
      reservedMicros: 0,
    });
    expect((await budget.spent('u1')).userMicros).toBe(0);
  });
});
