import { createHash } from 'node:crypto';
import type { FlagName } from '@assistant/contracts';
import { createKeys, type Keys } from '@assistant/queue';
import { createTestRedis, type TestRedis } from '@assistant/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CanaryOptions, createCanaryGuard } from './canary-guard.ts';
import { createCanaryStats } from './canary-stats.ts';
import { createFlagSnapshot } from './flag-snapshot.ts';
import { createFlagStore } from './flag-store.ts';

// The canary guard end to end on the real Redis: flags set through the store, finished questions
// and thumbs-down counted by the same code the worker and the API run, a guard pass judged on
// those counters, the rollback written through the store and seen by another process's snapshot.

const USERS = Array.from({ length: 3000 }, (_, i) => {
  const h = createHash('sha256').update(`canary-user-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
});
const OPTIONS: CanaryOptions = {
  errorRate: 0.1,
  p99Ms: 15_000,
  thumbsDownPerHour: 5,
  windowMs: 300_000,
  holdMs: 60_000,
  minQueries: 20,
  intervalMs: 1_000_000,
};
const silent = { warn: () => {}, error: () => {} };

let t: TestRedis;
let keys: Keys;
let run = 0;
let clock: number;

beforeAll(async () => {
  t = await createTestRedis('flags-canary');
});
beforeEach(() => {
  keys = createKeys(`${t.prefix}:${++run}`);
  clock = Date.UTC(2026, 11, 2, 12, 0, 30);
});
afterAll(async () => {
  await t?.cleanup();
});

/** One process's view: store, snapshot, counters and guard over the shared Redis. */
async function processView() {
  const store = createFlagStore(t.redis, keys, { now: () => clock });
  const flags = createFlagSnapshot({ store, defaultOff: [], logger: silent }, { refreshMs: 60_000 });
  await flags.refresh(true);
  const stats = createCanaryStats(t.redis, keys, { flags });
  const rollbacks: [FlagName, string][] = [];
  const guard = createCanaryGuard(
    {
      flags,
      stats,
      store,
      now: () => clock,
      logger: silent,
      onRollback: (flag, trigger) => rollbacks.push([flag, trigger]),
    },
    OPTIONS,
  );
  return { store, flags, stats, guard, rollbacks };
}

/** Answers every user once: a cohort user fails with probability `failIn`, others `failOut` (deterministic by index). */
async function answerAll(
  view: Awaited<ReturnType<typeof processView>>,
  flag: FlagName,
  fail: { in: number; out: number },
  latencyMs = { in: 1_200, out: 1_200 },
) {
  await Promise.all(
    USERS.map((userId, i) => {
      const inCohort = view.flags.enabled(flag, userId);
      const share = inCohort ? fail.in : fail.out;
      return view.stats.recordQuery({
        userId,
        failed: i % 100 < share * 100,
        latencyMs: inCohort ? latencyMs.in : latencyMs.out,
        at: clock - 20_000,
      });
    }),
  );
}

describe('canary guard', () => {
  it('rolls back a flag whose cohort fails, once the trigger has held for the hold time', async () => {
    const admin = await processView();
    await admin.store.set(
      'semantic_cache',
      { enabled: true, percentage: 10, allow: [], deny: [] },
      { actor: 'alice' },
    );
    const worker = await processView();
    // The cohort (10% of users) fails 40% of the time, the rest 2%.
    await answerAll(worker, 'semantic_cache', { in: 0.4, out: 0.02 });

    const first = await worker.guard.tick();
    expect(first).toHaveLength(1);
    expect(first[0]!.triggers.map((x) => x.trigger)).toEqual(['error_rate']);
    expect(first[0]!.rolledBack).toBe(false); // the trigger has not held long enough yet
    expect(first[0]!.triggers[0]!.cohort).toBeGreaterThan(0.3);
    expect(first[0]!.triggers[0]!.rest).toBeLessThan(0.05);

    clock += OPTIONS.holdMs + 1_000;
    const second = await worker.guard.tick();
    expect(second[0]!.rolledBack).toBe(true);
    expect(worker.rollbacks).toEqual([['semantic_cache', 'error_rate']]);

    // Stored at 0% (still enabled: the allow list keeps working), seen by the other process.
    await admin.flags.refresh();
    expect(admin.flags.get('semantic_cache').rule).toMatchObject({ enabled: true, percentage: 0 });
    expect(USERS.some((u) => admin.flags.enabled('semantic_cache', u))).toBe(false);
    const [change] = await admin.store.changes({ flag: 'semantic_cache', limit: 1 });
    expect(change).toMatchObject({ flag: 'semantic_cache', actor: 'canary-guard' });
    expect(change!.reason).toMatch(/error_rate: cohort 0\.\d+ vs rest 0\.0\d+/);
    expect(change!.before?.percentage).toBe(10);
    expect(change!.after?.percentage).toBe(0);

    // Nothing more to watch: the next pass does nothing.
    expect(await worker.guard.tick()).toEqual([]);
  });

  it('leaves a healthy rollout alone, and a trigger that stops holding resets the hold', async () => {
    const view = await processView();
    await view.store.set(
      'exact_cache',
      { enabled: true, percentage: 25, allow: [], deny: [] },
      { actor: 'alice' },
    );
    await view.flags.refresh();
    await answerAll(view, 'exact_cache', { in: 0.03, out: 0.03 });
    expect((await view.guard.tick())[0]).toMatchObject({ triggers: [], rolledBack: false });
    clock += OPTIONS.holdMs * 2;
    expect((await view.guard.tick())[0]).toMatchObject({ triggers: [], rolledBack: false });
    expect(view.flags.get('exact_cache').rule.percentage).toBe(25);
  });

  it('rolls back on a slow cohort (p99 over 15 s) and on thumbs-down', async () => {
    const view = await processView();
    await view.store.set(
      'breakers',
      { enabled: true, percentage: 10, allow: [], deny: [] },
      { actor: 'alice' },
    );
    await view.store.set(
      'budgets',
      { enabled: true, percentage: 10, allow: [], deny: [] },
      { actor: 'alice' },
    );
    await view.flags.refresh();
    await answerAll(view, 'breakers', { in: 0, out: 0 }, { in: 25_000, out: 1_200 });
    // Budgets: answers fine everywhere, but its cohort's users give 8 thumbs-down, the rest 2.
    const cohort = USERS.filter((u) => view.flags.enabled('budgets', u));
    const rest = USERS.filter((u) => !view.flags.enabled('budgets', u));
    for (const userId of [...cohort.slice(0, 8), ...rest.slice(0, 2)]) {
      await view.stats.recordThumbsDown({ userId, at: clock - 10_000 });
    }
    await view.guard.tick();
    clock += OPTIONS.holdMs;
    const verdicts = await view.guard.tick();
    expect(verdicts.find((v) => v.flag === 'breakers')).toMatchObject({ rolledBack: true });
    expect(verdicts.find((v) => v.flag === 'budgets')).toMatchObject({ rolledBack: true });
    expect(view.rollbacks).toEqual(
      expect.arrayContaining([
        ['breakers', 'p99'],
        ['budgets', 'thumbs_down'],
      ]),
    );
  });

  it('does not overwrite an admin change made since it judged the flag', async () => {
    const admin = await processView();
    await admin.store.set(
      'semantic_cache',
      { enabled: true, percentage: 10, allow: [], deny: [] },
      { actor: 'alice' },
    );
    const worker = await processView();
    await answerAll(worker, 'semantic_cache', { in: 0.5, out: 0 });
    await worker.guard.tick();
    clock += OPTIONS.holdMs;
    // The admin widens the rollout before the worker's snapshot has seen it.
    await admin.store.set(
      'semantic_cache',
      { enabled: true, percentage: 20, allow: [], deny: [] },
      { actor: 'alice' },
    );
    const verdicts = await worker.guard.tick();
    expect(verdicts[0]!.rolledBack).toBe(false);
    await admin.flags.refresh();
    expect(admin.flags.get('semantic_cache').rule.percentage).toBe(20);
  });
});

describe('flag snapshot', () => {
  it('sees another process’s override by polling, without being told', async () => {
    const store = createFlagStore(t.redis, keys, { now: Date.now });
    const flags = createFlagSnapshot(
      { store, defaultOff: ['escalation'], logger: silent },
      { refreshMs: 100 },
    );
    await flags.start();
    try {
      expect(flags.enabled('escalation', USERS[0]!)).toBe(false);
      expect(flags.get('semantic_cache').source).toBe('default');
      await store.set(
        'escalation',
        { enabled: true, percentage: 100, allow: [], deny: [] },
        { actor: 'ops' },
      );
      await expect.poll(() => flags.enabled('escalation', USERS[0]!), { timeout: 5_000 }).toBe(true);
      await store.set('escalation', undefined, { actor: 'ops', reason: 'reset' });
      await expect.poll(() => flags.enabled('escalation', USERS[0]!), { timeout: 5_000 }).toBe(false);
      const changes = await store.changes({ flag: 'escalation', limit: 10 });
      expect(changes.map((c) => [c.actor, c.before?.enabled ?? null, c.after?.enabled ?? null])).toEqual([
        ['ops', true, null],
        ['ops', null, true],
      ]);
    } finally {
      flags.close();
    }
  });
});
