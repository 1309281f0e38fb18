import { createKeys, createRedis, type RedisClient, waitForRedis } from '@assistant/queue';
import { startRedisCluster, type TestRedisCluster } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCanaryStats } from './canary-stats.ts';
import { createFlagSnapshot } from './flag-snapshot.ts';
import { createFlagStore } from './flag-store.ts';

// The flag store and the canary counters on a real 3-master Redis Cluster (started here): one
// pipeline counts a question for every flag in partial rollout, another sums a cohort's minutes,
// and the store's script and MULTI write and read its three keys. None may span slots.
const silent = { warn: () => {}, error: () => {} };
const MINUTE = 60_000;
let cluster: TestRedisCluster;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  redis = createRedis(cluster.url, 'worker', 'canary-cluster-test');
  await waitForRedis(redis);
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

describe('canary counters on a Redis Cluster', () => {
  it('counts every watched flag in one pipeline and sums a cohort over many minutes', async () => {
    let clock = Date.UTC(2026, 11, 3, 12, 0, 30);
    const keys = createKeys('canary-cluster');
    const store = createFlagStore(redis, keys, { now: () => clock });
    for (const name of ['exact_cache', 'semantic_cache'] as const)
      await store.set(name, { enabled: true, percentage: 50, allow: [], deny: [] }, { actor: 'test' });
    const flags = createFlagSnapshot({ store, defaultOff: [], logger: silent }, { refreshMs: 60_000 });
    await flags.refresh(true);
    const stats = createCanaryStats(redis, keys, { flags });
    const started = clock;
    const users = Array.from(
      { length: 20 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    for (let minute = 0; minute < 6; minute++) {
      clock = started + minute * MINUTE;
      for (const userId of users)
        await stats.recordQuery({ userId, failed: false, latencyMs: 800, at: clock });
    }
    for (const name of ['exact_cache', 'semantic_cache'] as const) {
      const since = flags.all().find((f) => f.name === name)!.since;
      const [inside, outside] = await Promise.all([
        stats.read(name, since, 'in', started, clock),
        stats.read(name, since, 'out', started, clock),
      ]);
      expect(inside.n + outside.n).toBe(users.length * 6);
      expect(inside.n).toBeGreaterThan(0);
      expect(outside.n).toBeGreaterThan(0);
    }
    expect((await store.read()).overrides.exact_cache?.rule.percentage).toBe(50);
  });
});
