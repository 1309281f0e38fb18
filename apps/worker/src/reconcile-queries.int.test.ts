import type { QueryEvent } from '@assistant/contracts';
import { createExperimentsRepo, queries as queriesTable } from '@assistant/db';
import { waitUntil } from '@assistant/testing';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, startTestWorker, type TestWorker, type WorkerTestEnv } from './test-worker.ts';

// Postgres is the record: an accepted question whose job Redis lost is found by the worker's
// reconciler and answered once; one open past the deadline is ended with `timeout`; one whose
// job is alive is left alone. Real worker (compose.ts), real BullMQ, Redis and Postgres.
let env: WorkerTestEnv;
let worker: TestWorker;
let userId: string;

beforeAll(async () => {
  env = await createWorkerTestEnv('reconcile');
  worker = await startTestWorker(env, {
    RECONCILE_INTERVAL_MS: '200',
    RECONCILE_OLDER_THAN_MS: '500',
    QUERY_MAX_AGE_MS: '600000',
  });
  userId = await env.createUser('free');
  await worker.indexedNote(userId, {
    title: 'Boiler',
    body: 'The boiler was serviced in May; the next service is due in May next year.',
  });
});

afterAll(async () => {
  await worker?.close();
  await env?.close();
});

async function eventsOf(queryId: string): Promise<QueryEvent[]> {
  return (await worker.events.readAfter(queryId, '0')).map((stored) => stored.event);
}
const terminals = (events: QueryEvent[]) => events.filter((e) => e.type === 'done' || e.type === 'error');

describe('the query reconciler', () => {
  it('re-enqueues an open query whose job is gone, and it is answered exactly once', async () => {
    // The row exists, the job never reached Redis (or Redis lost it).
    const job = await worker.queueQuery(userId, 'When is the boiler service due?');
    expect(await worker.answerQueue.queue.getJobState(job.query_id)).toBe('unknown');
    const row = await worker.waitFinished(job.query_id, 20_000);
    expect(row.status).toBe('succeeded');
    const events = await worker.waitTerminal(job.query_id);
    expect(terminals(events.map((e) => e.event)).map((e) => e.type)).toEqual(['done']);
    // Later passes leave the answered query alone.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(terminals(await eventsOf(job.query_id))).toHaveLength(1);
    expect(await env.queries.find(job.query_id)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('ends a query open past the deadline with one timeout error', async () => {
    const job = await worker.queueQuery(userId, 'A question from long ago?');
    await env.db.db
      .update(queriesTable)
      .set({ createdAt: sql`now() - interval '2 hours'` })
      .where(eq(queriesTable.id, job.query_id));
    const row = await worker.waitFinished(job.query_id, 20_000);
    expect(row).toMatchObject({ status: 'failed', errorCode: 'timeout' });
    await waitUntil(async () => terminals(await eventsOf(job.query_id)).length > 0, { what: 'error event' });
    expect(terminals(await eventsOf(job.query_id))).toEqual([
      { type: 'error', error: { code: 'timeout', message: 'the question was not answered in time' } },
    ]);
  });

  it('leaves an open query alone while its job is alive', async () => {
    const job = await worker.queueQuery(userId, 'Will this wait its turn?');
    // A job held back (as a user over the running cap, or waiting out an outage, is).
    await worker.answerQueue.queue.add('answer-query', job, { jobId: job.query_id, delay: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await worker.answerQueue.queue.getJobState(job.query_id)).toBe('delayed');
    expect(await env.queries.find(job.query_id)).toMatchObject({ status: 'queued' });
    expect(await eventsOf(job.query_id)).toEqual([{ type: 'queued', query_id: job.query_id }]);
    await (await worker.answerQueue.queue.getJob(job.query_id))?.remove();
  });

  it('re-enqueues a query under the experiment variant recorded on its row', async () => {
    const experiments = createExperimentsRepo(env.db.db);
    await experiments.create({
      id: 'exp_reconcile',
      name: 'reconcile',
      variants: [
        { name: 'control', weight: 1 },
        { name: 'big', weight: 1, model: 'big-model', prompt: 'answer@1' },
      ],
    });
    const job = await worker.queueQuery(userId, 'Which variant answers me after a loss?');
    await env.db.db
      .update(queriesTable)
      .set({ experimentId: 'exp_reconcile', experimentVariant: 'big' })
      .where(eq(queriesTable.id, job.query_id));
    const requeued = await waitUntil(
      async () => (await worker.answerQueue.queue.getJob(job.query_id)) ?? undefined,
      {
        what: 'the reconciler to re-enqueue the query',
        timeoutMs: 20_000,
      },
    );
    expect(requeued.data.experiment).toEqual({
      experiment_id: 'exp_reconcile',
      variant: 'big',
      model: 'big-model',
      prompt: 'answer@1',
    });
    await worker.waitFinished(job.query_id, 20_000);
  });
});
