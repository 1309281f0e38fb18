// Benchmark: the admission check (one Lua call: 4 windows, in-flight set, 2 budgets) against a
// bare Redis round trip (PING, and GET of a small key), measured in the same run on the same
// connection, at several concurrency levels (callers awaiting one request at a time each).
// Every admission is admitted (roomy limits), so each one takes the full write path.
// Run: npm run bench -w @assistant/limits   (REDIS_URL, default redis://127.0.0.1:6379)
import { availableParallelism } from 'node:os';
import type { TierLimits } from '@assistant/config';
import { createKeys, createRedis, waitForRedis } from '@assistant/queue';
import { deleteKeys, testServers, uniqueName } from '@assistant/testing';
import { createAdmission } from '../src/index.ts';

const CONCURRENCY = [1, 8, 32, 128];
const DURATION_MS = 2_000; // per measurement
const WARM_UP_OPS = 2_000;
const USERS = 5_000;

const ROOMY: TierLimits = {
  perMinute: 1_000_000,
  perHour: 1_000_000,
  perDay: 1_000_000,
  dailyBudgetMicros: 1_000_000_000,
  maxInFlight: 1_000_000,
  maxRunning: 10,
};
const GLOBAL = { perHour: 1_000_000_000, dailyBudgetMicros: 1_000_000_000_000 };

type Measurement = { ops: number; opsPerSecond: number; p50Us: number; p99Us: number };

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** Runs `op` from `concurrency` callers for DURATION_MS; latency per call, throughput overall. */
async function measure(concurrency: number, op: (i: number) => Promise<unknown>): Promise<Measurement> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + DURATION_MS;
  const caller = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const begin = performance.now();
      await op(i);
      latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsedMs = performance.now() - started;
  const sorted = Float64Array.from(latencies).sort();
  return {
    ops: latencies.length,
    opsPerSecond: latencies.length / (elapsedMs / 1000),
    p50Us: percentile(sorted, 0.5) * 1000,
    p99Us: percentile(sorted, 0.99) * 1000,
  };
}

const redis = createRedis(testServers.redisUrl, 'command', 'limits-bench');
await waitForRedis(redis);
const prefix = uniqueName('limits_bench');
const keys = createKeys(prefix);
const admission = createAdmission(redis, keys);
const probeKey = `${prefix}:probe`;
await redis.set(probeKey, 'x', 'EX', 600);

let queryNumber = 0;
const admit = (i: number) =>
  admission.admit({
    userId: `user-${i % USERS}`,
    queryId: `q${queryNumber++}`,
    limits: ROOMY,
    global: GLOBAL,
  });
const ping = () => redis.ping();
const get = () => redis.get(probeKey);

try {
  const info = await redis.info('server');
  const version = info.match(/redis_version:(\S+)/)?.[1] ?? '?';
  console.log(
    `Redis ${version} at ${testServers.redisUrl}; Node ${process.version}; ${availableParallelism()} CPUs; ` +
      `${DURATION_MS} ms per cell; ${USERS} users`,
  );
  for (let i = 0; i < WARM_UP_OPS; i++) await Promise.all([admit(i), ping(), get()]);

  const fmt = (n: number, width: number, digits = 0) => n.toFixed(digits).padStart(width);
  console.log(
    `\n${'conc'.padStart(5)} | ${'op'.padEnd(6)} | ${'ops/s'.padStart(8)} | ${'p50 µs'.padStart(8)} | ` +
      `${'p99 µs'.padStart(8)} | ${'ops/s ÷ PING'.padStart(12)} | ${'p50 × PING'.padStart(10)} | ${'p99 × PING'.padStart(10)}`,
  );
  console.log('-'.repeat(94));
  for (const concurrency of CONCURRENCY) {
    const results = {
      PING: await measure(concurrency, ping),
      GET: await measure(concurrency, get),
      admit: await measure(concurrency, admit),
    };
    const base = results.PING;
    for (const [name, m] of Object.entries(results)) {
      console.log(
        `${fmt(concurrency, 5)} | ${name.padEnd(6)} | ${fmt(m.opsPerSecond, 8)} | ${fmt(m.p50Us, 8)} | ` +
          `${fmt(m.p99Us, 8)} | ${fmt(m.opsPerSecond / base.opsPerSecond, 12, 2)} | ` +
          `${fmt(m.p50Us / base.p50Us, 10, 2)} | ${fmt(m.p99Us / base.p99Us, 10, 2)}`,
      );
    }
  }
  console.log(`\n${queryNumber} admissions in all.`);
} finally {
  const removed = await deleteKeys(redis, `${prefix}:*`);
  console.log(`cleaned up ${removed} keys under ${prefix}:*`);
  redis.disconnect();
}
