// Benchmark: the queue hop, from `enqueue` of an answer job to the worker's processor being
// called, on real Redis with real BullMQ, against a Redis PING round trip measured in the same run.
//
// The producer is the API's (createAnswerQueue: addBulk with the job id from the query id); the
// consumer is a BullMQ Worker on the same queue with the worker's own options (prefix,
// concurrency, global concurrency, lock and stall policy from the default config) and a trivial
// processor that records when it was called. Both sides share this process, so one clock times
// the hop. Two cases: "idle" (the worker is parked in its blocking wait when the job arrives, a
// few ms between jobs, the low-load case of target 6) and "back to back" (the next job is
// enqueued as soon as the previous one started).
//
// Run: npm run bench -w @assistant/worker, or npx tsx apps/worker/bench/queue-hop.bench.ts [--quick]
import { loadConfig } from '@assistant/config';
import type { AnswerJob } from '@assistant/contracts';
import { createAnswerQueue, createKeys, createRedis, QUEUE_NAMES, waitForRedis } from '@assistant/queue';
import { createTestRedis } from '@assistant/testing';
import { Worker } from 'bullmq';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const JOBS = QUICK ? 200 : 1_000;
const PINGS = QUICK ? 500 : 2_000;
const IDLE_GAP_MS = 5;
const TARGET_P50_MS = 3;

function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const testRedis = await createTestRedis('queue_hop_bench');
const config = loadConfig({
  REDIS_URL: testRedis.url,
  REDIS_PREFIX: testRedis.prefix,
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
  ADMIN_TOKEN: 'bench-admin-token-0123456789',
});
const keys = createKeys(config.redis.prefix);
const command = createRedis(config.redis.url, 'command', 'bench-producer');
const workerConnection = createRedis(config.redis.url, 'worker', 'bench-worker');
await Promise.all([waitForRedis(command), waitForRedis(workerConnection)]);
const producer = createAnswerQueue(command, keys, config.jobs);
await producer.queue.setGlobalConcurrency(config.worker.globalConcurrency);

const enqueuedAt = new Map<string, number>();
const hops: number[] = [];
let onStarted: (() => void) | undefined;
const worker = new Worker<AnswerJob>(
  QUEUE_NAMES.answer,
  async (job) => {
    const began = enqueuedAt.get(job.data.query_id);
    if (began !== undefined) hops.push(performance.now() - began);
    onStarted?.();
  },
  {
    connection: workerConnection,
    prefix: keys.bullPrefix(QUEUE_NAMES.answer),
    concurrency: config.worker.concurrency,
    lockDuration: config.worker.lockMs,
    stalledInterval: config.worker.stalledIntervalMs,
    maxStalledCount: 2,
  },
);
await worker.waitUntilReady();

let sequence = 0;
function job(): AnswerJob {
  const id = `hop-${sequence++}`;
  return {
    query_id: id,
    user_id: 'bench-user',
    request_id: id,
    tier: 'free',
    limits: { maxRunning: 2, dailyBudgetMicros: 1_000_000 },
    bypass_cache: false,
    trace: {},
    enqueued_at: Date.now(),
  };
}
async function hop(): Promise<void> {
  const data = job();
  const started = new Promise<void>((resolve) => {
    onStarted = resolve;
  });
  enqueuedAt.set(data.query_id, performance.now());
  await producer.enqueue(data);
  await started;
}

try {
  console.log(
    `queue-hop.bench: Node ${process.version}; BullMQ worker concurrency ${config.worker.concurrency}, ` +
      `global ${config.worker.globalConcurrency}; ${JOBS} jobs per case, ${PINGS} PINGs`,
  );
  for (let i = 0; i < 50; i++) await hop();
  const pings: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const begin = performance.now();
    await command.ping();
    pings.push(performance.now() - begin);
  }
  const ping = summarize(pings);
  const rows: [string, ReturnType<typeof summarize>][] = [['Redis PING round trip', ping]];
  for (const [name, gap] of [
    [`enqueue → processor, idle (${IDLE_GAP_MS} ms apart)`, IDLE_GAP_MS],
    ['enqueue → processor, back to back', 0],
  ] as const) {
    hops.length = 0;
    for (let i = 0; i < JOBS; i++) {
      await hop();
      if (gap > 0) await sleep(gap);
    }
    rows.push([name, summarize(hops)]);
  }
  console.log(
    `${'case'.padEnd(42)} | ${'p50 ms'.padStart(7)} | ${'p99 ms'.padStart(7)} | ${'max ms'.padStart(7)} | p50 ×PING`,
  );
  console.log('-'.repeat(85));
  for (const [name, s] of rows) {
    console.log(
      `${name.padEnd(42)} | ${s.p50.toFixed(2).padStart(7)} | ${s.p99.toFixed(2).padStart(7)} | ` +
        `${s.max.toFixed(2).padStart(7)} | ${(s.p50 / ping.p50).toFixed(1).padStart(9)}`,
    );
  }
  const idle = rows[1]![1];
  console.log(
    `target 6 (queue hop p50 ≤ ${TARGET_P50_MS} ms, idle worker): ${idle.p50 <= TARGET_P50_MS ? 'met' : 'NOT met'} ` +
      `(p50 ${idle.p50.toFixed(2)} ms)`,
  );
} finally {
  await worker.close();
  await producer.queue.obliterate({ force: true }).catch(() => {});
  await producer.close();
  command.disconnect();
  workerConnection.disconnect();
  await testRedis.cleanup();
  console.log('cleaned up: Redis prefix removed');
}
