import type { TestRedis } from '@assistant/testing';
import { createTestRedis } from '@assistant/testing';
import { MetricsTime, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBacklog } from './queue-depth.ts';

// readBacklog on real BullMQ: the waiting count, and the finished total a worker with `metrics`
// records (completed and failed alike) — the backlog gate's drain rate comes from the latter.
let t: TestRedis;
let connection: Redis;

beforeAll(async () => {
  t = await createTestRedis('queue-depth');
  connection = new Redis(t.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  connection?.disconnect();
  await t?.cleanup();
});

describe('readBacklog', () => {
  it('counts waiting jobs, then the jobs a metrics-recording worker finished', async () => {
    const queue = new Queue('drain', { connection, prefix: t.prefix });
    await queue.addBulk(
      Array.from({ length: 5 }, (_, i) => ({ name: 'job', data: { i }, opts: { attempts: 1 } })),
    );
    expect(await readBacklog(queue)).toEqual({ waiting: 5, finished: 0 });

    const worker = new Worker(
      'drain',
      async (job) => {
        if (job.data.i === 0) throw new Error('this one fails');
      },
      { connection, prefix: t.prefix, metrics: { maxDataPoints: MetricsTime.ONE_HOUR } },
    );
    try {
      await expect.poll(() => readBacklog(queue), { timeout: 10_000 }).toEqual({ waiting: 0, finished: 5 });
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
