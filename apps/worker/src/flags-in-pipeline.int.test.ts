import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createFlagStore } from '@assistant/flags';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, startTestWorker, type TestWorker, type WorkerTestEnv } from './test-worker.ts';

// Flags and experiment variants inside the worker as compose.ts builds it (real Redis, Postgres,
// BullMQ, ONNX model, the fake LLM over HTTP): a flag set in the Redis store turns the feature off
// for the users it is off for, and a job's variant model is the model the worker asks.
let env: WorkerTestEnv;
let fake: RunningFakeLlm;
let worker: TestWorker;
let flagged: string;
let plain: string;

beforeAll(async () => {
  env = await createWorkerTestEnv('flags-pipeline');
  fake = await startFakeLlm({ settings: { answerTokens: 8 } });
  worker = await startTestWorker(env, {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    FLAGS_REFRESH_MS: '100',
  });
  flagged = await env.createUser('free');
  plain = await env.createUser('free');
  for (const userId of [flagged, plain]) {
    await worker.indexedNote(userId, {
      title: 'Garden',
      body: 'Water the tomatoes twice a week. Basil likes shade.',
    });
  }
  const store = createFlagStore(env.redis, env.keys, { now: Date.now });
  for (const name of ['semantic_cache', 'budgets'] as const) {
    await store.set(name, { enabled: true, percentage: 100, allow: [], deny: [flagged] }, { actor: 'test' });
  }
  await worker.worker.flags.refresh(true);
});
afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await env?.close();
});

async function answer(
  userId: string,
  query: string,
  options: Parameters<TestWorker['queueQuery']>[2] = {},
  extra = {},
) {
  const job = { ...(await worker.queueQuery(userId, query, options)), ...extra };
  await worker.answerQueue.enqueue(job);
  const row = await worker.waitFinished(job.query_id);
  // The worker counts a finished question (the canary counters) after its row is written, and
  // the job leaves `active` after that: wait for it, so no count lands in a later test's window.
  await expect.poll(() => worker.answerQueue.queue.getActiveCount(), { timeout: 5_000 }).toBe(0);
  return row;
}

async function keysMatching(pattern: string): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await env.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

describe('flags in the answer pipeline', () => {
  it('writes no semantic cache entry for a user the flag is off for, and does for others', async () => {
    await answer(flagged, 'How often do I water the tomatoes?');
    await answer(plain, 'How often do I water the tomatoes?');
    expect(await keysMatching(`${env.keys.prefix}:semantic:{${flagged}}:*`)).toBe(0);
    expect(await keysMatching(`${env.keys.prefix}:semantic:{${plain}}:*`)).toBeGreaterThan(0);
    // The exact cache is its own flag, still on for both.
    expect(await keysMatching(`${env.keys.prefix}:answer:{${flagged}}:*`)).toBe(1);
  });

  it('reserves no budget (and refuses none) for a user with budgets off', async () => {
    const poorFlagged = await answer(flagged, 'Where does basil like to grow?', {
      limits: { dailyBudgetMicros: 1 },
    });
    const poorPlain = await answer(plain, 'Where does basil like to grow?', {
      limits: { dailyBudgetMicros: 1 },
    });
    expect(poorFlagged).toMatchObject({ status: 'succeeded', model: 'fake-model' });
    expect(poorPlain).toMatchObject({ status: 'failed', errorCode: 'budget_exceeded' });
  });

  it("answers with the job's experiment variant model (and caches it apart from the default's)", async () => {
    const before = fake.counters().requests;
    const variant = await answer(
      plain,
      'How often do I water the tomatoes?',
      {},
      {
        experiment: { experiment_id: 'exp_1', variant: 'big', model: 'fake-big' },
      },
    );
    // Not served from the default's cached answer: the variant's model is part of the key.
    expect(variant).toMatchObject({ status: 'succeeded', model: 'fake-big', cached: false });
    expect(fake.counters().requests).toBe(before + 1);
  });

  it('counts finished questions per cohort for the canary guard while a flag is in partial rollout', async () => {
    const store = createFlagStore(env.redis, env.keys, { now: Date.now });
    await store.set(
      'quality_scoring',
      { enabled: true, percentage: 50, allow: [flagged], deny: [plain] },
      { actor: 'test' },
    );
    await worker.worker.flags.refresh(true);
    await answer(flagged, 'What does basil like?', { bypassCache: true });
    await answer(plain, 'What does basil like?', { bypassCache: true });
    const since = worker.worker.flags.get('quality_scoring').since;
    const minute = Math.floor(Date.now() / 60_000);
    const read = async (cohort: 'in' | 'out') => {
      const hashes = await Promise.all(
        [minute - 1, minute].map((m) =>
          env.redis.hgetall(env.keys.canaryStats('quality_scoring', since, cohort, m)),
        ),
      );
      return hashes.reduce((n, h) => n + Number(h.n ?? 0), 0);
    };
    // The counter is written right after the row: wait for both.
    await expect.poll(() => read('in'), { timeout: 5_000 }).toBe(1);
    await expect.poll(() => read('out'), { timeout: 5_000 }).toBe(1);
  });
});
