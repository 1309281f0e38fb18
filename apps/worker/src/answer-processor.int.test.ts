import type { AnswerJob, QueryEvent } from '@assistant/contracts';
import { createCostsRepo } from '@assistant/db';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createRunSlots } from '@assistant/limits';
import { QUEUE_NAMES } from '@assistant/queue';
import { waitUntil } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, startTestWorker, type TestWorker, type WorkerTestEnv } from './test-worker.ts';

// The `answer-query` job lifecycle under real BullMQ workers (compose.ts's buildWorker, started),
// over real Redis and Postgres, answering from the fake LLM. Jobs go in through the real producer;
// assertions are on rows, streams and jobs only.

let env: WorkerTestEnv;
let fake: RunningFakeLlm;
let worker: TestWorker;

beforeAll(async () => {
  env = await createWorkerTestEnv('processor');
  fake = await startFakeLlm({ settings: { answerTokens: 8 } });
  worker = await startTestWorker(env, {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
  });
});
afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await env?.close();
});

function terminals(events: QueryEvent[]): QueryEvent[] {
  return events.filter((event) => event.type === 'done' || event.type === 'error');
}

async function eventsOf(queryId: string): Promise<QueryEvent[]> {
  return (await worker.events.readAfter(queryId, '0')).map((stored) => stored.event);
}

/** Waits until a job is in one of `states`, and returns the job as stored. */
async function waitJobState(jobId: string, states: string[]) {
  return waitUntil(
    async () => {
      // The state first, then the job: a job read before it moved would lack what the move wrote.
      const state = await worker.answerQueue.queue.getJobState(jobId);
      return states.includes(state) ? await worker.answerQueue.queue.getJob(jobId) : undefined;
    },
    { what: `job ${jobId} ${states.join('/')}`, timeoutMs: 20_000, intervalMs: 50 },
  );
}

/** Puts a finished job's payload on the queue once more (as a stalled or re-delivered job would be). */
async function replay(job: AnswerJob): Promise<void> {
  await (await worker.answerQueue.queue.getJob(job.query_id))?.remove();
  await worker.answerQueue.enqueue(job);
  await waitJobState(job.query_id, ['completed', 'failed']);
}

/** A user of a test's own (their ledger and run slots are theirs alone), with one indexed note. */
async function newUser(): Promise<string> {
  const userId = await env.createUser('free');
  await worker.indexedNote(userId, {
    title: 'Passport',
    body: 'The passport expires in March 2031; renew it at the town hall, bring two photos.',
  });
  return userId;
}

async function ask(userId: string, query: string, options: Parameters<TestWorker['queueQuery']>[2] = {}) {
  const job = await worker.queueQuery(userId, query, options);
  await worker.answerQueue.enqueue(job);
  return job;
}

describe('createAnswerProcessor under real BullMQ workers', () => {
  it('takes a job for a queued row to succeeded with exactly one done', async () => {
    const userId = await newUser();
    const job = await ask(userId, 'When does my passport expire?');
    const row = await worker.waitFinished(job.query_id);
    const finished = await waitJobState(job.query_id, ['completed', 'failed']);

    expect(row).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await finished.getState()).toBe('completed');
    const events = await eventsOf(job.query_id);
    expect(terminals(events).map((event) => event.type)).toEqual(['done']);
    expect(events.filter((event) => event.type === 'started')).toEqual([{ type: 'started', attempt: 1 }]);
  });

  it('re-announces nothing new when a finished job is replayed: one done, one ledger row', async () => {
    const userId = await newUser();
    const job = await ask(userId, 'Where do I renew my passport?');
    const row = await worker.waitFinished(job.query_id);
    await waitJobState(job.query_id, ['completed']);
    const costs = createCostsRepo(env.db.db);
    const day = (await costs.entryOf(row.id))!.day;
    const ledgerBefore = await costs.ledgerTotal(userId, day);
    expect(ledgerBefore).toEqual({ rows: 1, costMicros: row.costMicros });
    const requests = fake.counters().requests;

    await replay(job);

    expect(fake.counters().requests).toBe(requests);
    expect(terminals(await eventsOf(job.query_id)).map((event) => event.type)).toEqual(['done']);
    expect(await env.queries.find(job.query_id)).toMatchObject({ status: 'succeeded', answer: row.answer });
    expect(await costs.ledgerTotal(userId, day)).toEqual(ledgerBefore);
  });

  it('re-announces what a crashed run left undone: its done and a missing ledger entry, each once', async () => {
    const userId = await newUser();
    const job = await ask(userId, 'What do I bring to renew my passport?');
    const row = await worker.waitFinished(job.query_id);
    await waitJobState(job.query_id, ['completed']);
    const costs = createCostsRepo(env.db.db);
    const entry = (await costs.entryOf(row.id))!;
    const ledgerBefore = await costs.ledgerTotal(userId, entry.day);
    expect(ledgerBefore).toEqual({ rows: 1, costMicros: row.costMicros });
    // As if the run died after storing the row: no `done` on the stream; and as if the row came
    // from a release that wrote its ledger entry later: no entry.
    await worker.events.remove(job.query_id);
    await costs.forget(row.id);
    expect(await costs.ledgerTotal(userId, entry.day)).toEqual({ rows: 0, costMicros: 0 });

    await replay(job);
    await replay(job);

    const events = await eventsOf(job.query_id);
    expect(events).toHaveLength(1);
    expect(events[0]?.type === 'done' && events[0].result.answer).toBe(row.answer);
    const { createdAt: _recordedAgainAt, ...again } = (await costs.entryOf(row.id))!;
    const { createdAt: _recordedAt, ...before } = entry;
    expect(again).toEqual(before);
    expect(await costs.ledgerTotal(userId, entry.day)).toEqual(ledgerBefore);
  });

  it('re-announces the stored error when a failed job is replayed', async () => {
    const userId = await newUser();
    // A question the note answers: one the notes do not cover ends `no_context` without spending.
    const job = await ask(userId, 'When does my passport expire?', { limits: { dailyBudgetMicros: 1 } });
    const row = await worker.waitFinished(job.query_id);
    expect(row).toMatchObject({ status: 'failed', errorCode: 'budget_exceeded' });
    await waitJobState(job.query_id, ['failed']);
    await worker.events.remove(job.query_id);

    await replay(job);

    expect(await eventsOf(job.query_id)).toEqual([
      { type: 'error', error: { code: 'budget_exceeded', message: row.errorMessage } },
    ]);
  });

  it('fails an invalid payload unrecoverably: one attempt, no retries', async () => {
    await worker.answerQueue.queue.add('answer-query', { query_id: 'q_bad' } as AnswerJob, {
      jobId: 'bad-1',
    });
    const job = await waitJobState('bad-1', ['failed']);
    // Failed for good after the one attempt it started, though the queue allows more.
    expect(job.attemptsStarted).toBe(1);
    expect(job.opts.attempts).toBe(worker.config.jobs.attempts);
    expect(job.failedReason).toMatch(/invalid answer job payload/);
  });

  it('fails a job for an unknown query unrecoverably', async () => {
    const job = await worker.queueQuery(await newUser(), 'never stored');
    await env.queries.remove(job.query_id);
    await worker.answerQueue.enqueue(job);
    const failed = await waitJobState(job.query_id, ['failed']);
    expect(failed.attemptsStarted).toBe(1);
    expect(failed.failedReason).toMatch(/unknown query/);
  });

  it('delays, and does not fail, a job of a user at their running cap; it runs once a slot frees', async () => {
    const userId = await newUser();
    const runSlots = createRunSlots(env.redis, env.keys, { leaseMs: 60_000 });
    // Another of this user's answers holds the only slot.
    expect(await runSlots.acquire(userId, 'other-job', 1)).toBe(true);
    const requests = fake.counters().requests;
    const job = await ask(userId, 'How many photos do I bring for the passport?', {
      limits: { maxRunning: 1 },
    });
    try {
      // It comes back to the worker again and again, and each time goes back to wait.
      await waitUntil(
        async () => {
          const stored = await worker.answerQueue.queue.getJob(job.query_id);
          return stored && (await stored.getState()) === 'delayed' && stored.attemptsStarted >= 2;
        },
        { what: 'job delayed more than once', timeoutMs: 20_000, intervalMs: 50 },
      );
      const stored = await worker.answerQueue.queue.getJob(job.query_id);
      expect(stored?.attemptsMade).toBe(0);
      expect(await env.queries.find(job.query_id)).toMatchObject({ status: 'queued' });
      expect(fake.counters().requests).toBe(requests);
      expect(terminals(await eventsOf(job.query_id))).toEqual([]);
    } finally {
      await runSlots.release(userId, 'other-job');
    }

    const row = await worker.waitFinished(job.query_id);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 1 });
    // `done` follows the stored row (caches and settle come between): wait for it.
    const stored = await worker.waitTerminal(job.query_id);
    expect(terminals(stored.map((e) => e.event)).map((event) => event.type)).toEqual(['done']);
  });
  it('finishes the answer when the stream owner record is lost mid-run (Redis restarted empty)', async () => {
    const userId = await newUser();
    fake.update({ tokensPerSecond: 8 });
    try {
      const job = await ask(userId, 'What do I bring to renew my passport?');
      await waitUntil(async () => (await eventsOf(job.query_id)).some((event) => event.type === 'token'), {
        what: 'first token',
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      // What a Redis that lost its data looks like to the run: no owner recorded.
      await env.redis.del(env.keys.eventsOwner(job.query_id));
      const row = await worker.waitFinished(job.query_id);
      expect(row).toMatchObject({ status: 'succeeded', attempts: 1 });
      const stored = await worker.waitTerminal(job.query_id);
      expect(terminals(stored.map((e) => e.event)).map((event) => event.type)).toEqual(['done']);
    } finally {
      fake.update({ tokensPerSecond: 0 });
    }
  });
});

describe('a run whose job lock is lost', () => {
  it('stops without blaming the language model; the job is taken over and answered once', async () => {
    const lockEnv = await createWorkerTestEnv('processor-lock');
    const slow = await startFakeLlm({ settings: { answerTokens: 8, tokensPerSecond: 2 } });
    const lockWorker = await startTestWorker(lockEnv, {
      LLM_PROVIDER: 'endpoint',
      LLM_ENDPOINT_URL: `${slow.url}/v1`,
      LLM_MODEL: 'fake-model',
      JOB_ATTEMPTS: '1',
      WORKER_LOCK_MS: '1000',
      WORKER_STALLED_INTERVAL_MS: '500',
    });
    try {
      const userId = await lockEnv.createUser('free');
      await lockWorker.indexedNote(userId, {
        title: 'Passport',
        body: 'The passport expires in March 2031; renew it at the town hall, bring two photos.',
      });
      const job = await lockWorker.queueQuery(userId, 'When does my passport expire?');
      await lockWorker.answerQueue.enqueue(job);
      const eventsOfJob = async () =>
        (await lockWorker.events.readAfter(job.query_id, '0')).map((stored) => stored.event);
      await waitUntil(async () => (await eventsOfJob()).some((event) => event.type === 'token'), {
        what: 'first token',
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      // The lock vanishes (as after a Redis restart): the next renewal fails and the run is cancelled.
      await lockEnv.redis.del(
        `${lockEnv.keys.bullPrefix(QUEUE_NAMES.answer)}:${QUEUE_NAMES.answer}:${job.query_id}:lock`,
      );
      const row = await lockWorker.waitFinished(job.query_id, 40_000);
      expect(row.errorCode).not.toBe('upstream_unavailable');
      expect(row).toMatchObject({ status: 'succeeded' });
      // The done follows the row's update: wait for it on the stream.
      const events = (await lockWorker.waitTerminal(job.query_id)).map((stored) => stored.event);
      expect(terminals(events).map((event) => event.type)).toEqual(['done']);
      // The run that took over announced itself right after its started: tokens so far are void.
      const second = events.findIndex(
        (event, i) => event.type === 'started' && i > events.findIndex((e) => e.type === 'started'),
      );
      expect(second).toBeGreaterThan(0);
      expect(events[second + 1]).toEqual({ type: 'restart', reason: 'worker lost; answering again' });
    } finally {
      await lockWorker.close();
      await slow.close();
      await lockEnv.close();
    }
  }, 60_000);
});
