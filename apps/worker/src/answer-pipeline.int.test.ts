import type { QueryEvent } from '@assistant/contracts';
import { createCostsRepo } from '@assistant/db';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createBudget } from '@assistant/limits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, startTestWorker, type TestWorker, type WorkerTestEnv } from './test-worker.ts';

// The answer pipeline as the worker runs it (compose.ts's buildWorker over real Redis, Postgres,
// BullMQ and the ONNX model), answering from the fake LLM over HTTP. Assertions stay on what the
// pipeline leaves behind: the query row, its event stream, its ledger entry and the caches.

let env: WorkerTestEnv;
let fake: RunningFakeLlm;
let worker: TestWorker;
let userId: string;
let sourdoughNoteId: string;

beforeAll(async () => {
  env = await createWorkerTestEnv('pipeline');
  fake = await startFakeLlm({ settings: { answerTokens: 12 } });
  worker = await startTestWorker(env, {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    LLM_PRICE_INPUT_USD: '0.0000002',
    LLM_PRICE_OUTPUT_USD: '0.0000006',
    RETRIEVAL_ANSWERABILITY: 'gate',
  });
  userId = await env.createUser('free');
  const sourdough = await worker.indexedNote(userId, {
    title: 'Sourdough starter',
    body: 'Feed the sourdough starter every morning with equal parts rye flour and water. It doubles in about six hours.',
  });
  sourdoughNoteId = sourdough.id;
  await worker.indexedNote(userId, {
    title: 'Bicycle maintenance',
    body: 'Lubricate the bike chain every 300 km. Road tyres are inflated to 90 psi.',
  });
});
afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await env?.close();
});

/** Queues a question for the worker as the API does, and waits for its row to finish. */
async function answer(query: string, options: Parameters<TestWorker['queueQuery']>[2] = {}) {
  const job = await worker.queueQuery(userId, query, options);
  await worker.answerQueue.enqueue(job);
  const row = await worker.waitFinished(job.query_id);
  const stream = await worker.waitTerminal(job.query_id);
  return { job, row, events: stream.map((stored) => stored.event) };
}

/** The event types of a stream with runs of tokens folded into one `token…`. */
function shape(events: QueryEvent[]): string[] {
  const out: string[] = [];
  for (const event of events) {
    const name = event.type === 'token' ? 'token…' : event.type;
    if (out.at(-1) !== name) out.push(name);
  }
  return out;
}

async function keysMatching(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await env.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

const QUESTION = 'How often should I feed my sourdough starter?';

describe('the answer pipeline, end to end inside the worker', () => {
  let first: Awaited<ReturnType<typeof answer>>;

  it('answers a queued query from the LLM: row succeeded with sources, usage and cost', async () => {
    const before = fake.counters().requests;
    first = await answer(QUESTION);
    expect(fake.counters().requests).toBe(before + 1);

    const { row } = first;
    expect(row).toMatchObject({
      status: 'succeeded',
      cached: false,
      model: 'fake-model',
      provider: 'endpoint',
      errorCode: null,
    });
    expect(row.answer?.length).toBeGreaterThan(0);
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(row.completionTokens).toBeGreaterThan(0);
    expect(row.costMicros).toBeGreaterThan(0);
    const sources = row.sources as { note_id: string; title: string }[];
    expect(sources[0]).toMatchObject({ note_id: sourdoughNoteId, title: 'Sourdough starter' });
  });

  it('streams queued → started → sources → token… → done, with the stored answer in done', async () => {
    const { row, events } = first;
    expect(shape(events)).toEqual(['queued', 'started', 'sources', 'token…', 'done']);
    const tokens = events.flatMap((event) => (event.type === 'token' ? [event.text] : []));
    expect(tokens.join('')).toBe(row.answer);
    const done = events.at(-1);
    expect(done?.type === 'done' && done.result).toMatchObject({
      answer: row.answer,
      model: 'fake-model',
      usage: {
        prompt_tokens: row.promptTokens,
        completion_tokens: row.completionTokens,
        total_tokens: row.promptTokens! + row.completionTokens!,
      },
      cost_usd: row.costMicros! / 1e6,
    });
    const sourcesEvent = events.find((event) => event.type === 'sources');
    expect(sourcesEvent?.type === 'sources' && sourcesEvent.sources).toEqual(row.sources);
  });

  it('writes the ledger entry in the transaction that stores the answer', async () => {
    const { row } = first;
    // Present the moment the row is: no job in between.
    const costs = createCostsRepo(env.db.db);
    const entry = await costs.entryOf(row.id);
    expect(entry).toMatchObject({
      queryId: row.id,
      userId,
      provider: 'endpoint',
      model: 'fake-model',
      promptTokens: row.promptTokens!,
      completionTokens: row.completionTokens!,
      inputNanosPerToken: 200,
      outputNanosPerToken: 600,
      costMicros: row.costMicros!,
      cached: false,
    });
    const total = await costs.ledgerTotal(userId, entry!.day);
    expect(total).toEqual({ rows: 1, costMicros: row.costMicros });
  });

  it('writes the exact and the semantic answer cache for the user', async () => {
    expect(await keysMatching(`${env.keys.prefix}:answer:{${userId}}:*`)).toHaveLength(1);
    expect((await keysMatching(`${env.keys.prefix}:semantic:{${userId}}:*`)).length).toBeGreaterThan(0);
  });

  it('serves the same question again from the cache: no LLM call, no cost, same answer', async () => {
    const before = fake.counters().requests;
    const again = await answer(QUESTION);
    expect(fake.counters().requests).toBe(before);
    expect(again.row).toMatchObject({
      status: 'succeeded',
      cached: true,
      answer: first.row.answer,
      costMicros: 0,
    });
    expect(shape(again.events)).toEqual(['queued', 'started', 'sources', 'token…', 'done']);
    const done = again.events.at(-1);
    expect(done?.type === 'done' && done.result.answer).toBe(first.row.answer);
    // The reservation made beside the semantic lookup is freed by the hit's settle at no cost.
    expect(await createBudget(env.redis, env.keys).spent(userId)).toMatchObject({
      userReservedMicros: 0,
      userMicros: first.row.costMicros,
    });
  });

  it('answers afresh with no-store: the LLM is asked and nothing new is cached', async () => {
    const cachedKeys = await keysMatching(`${env.keys.prefix}:answer:{${userId}}:*`);
    const before = fake.counters().requests;
    const fresh = await answer(QUESTION, { bypassCache: true });
    expect(fake.counters().requests).toBe(before + 1);
    expect(fresh.row).toMatchObject({ status: 'succeeded', cached: false });
    expect(await keysMatching(`${env.keys.prefix}:answer:{${userId}}:*`)).toEqual(cachedKeys);
  });

  it('ends with budget_exceeded, before asking the LLM, when the daily budget cannot cover the question', async () => {
    const before = fake.counters().requests;
    const poor = await answer('What pressure do my road bike tyres need?', {
      limits: { dailyBudgetMicros: 1 },
    });
    expect(fake.counters().requests).toBe(before);
    expect(poor.row).toMatchObject({ status: 'failed', errorCode: 'budget_exceeded', answer: null });
    expect(shape(poor.events)).toEqual(['queued', 'started', 'sources', 'error']);
    const last = poor.events.at(-1);
    expect(last?.type === 'error' && last.error.code).toBe('budget_exceeded');

    expect(await createCostsRepo(env.db.db).entryOf(poor.row.id)).toBeUndefined();
  });

  it('answers offline (extractive) from the notes when the LLM fails every try', async () => {
    fake.update({ failNext: 100, errorKinds: ['server_error'] });
    try {
      const offline = await answer('When should the bike chain be lubricated?', { bypassCache: true });
      expect(offline.row).toMatchObject({ status: 'succeeded', provider: 'extractive' });
      expect(offline.row.fallback?.source).toBe('extractive');
      expect(offline.row.answer?.length).toBeGreaterThan(0);
      expect(shape(offline.events).at(-1)).toBe('done');
    } finally {
      fake.reset();
      fake.update({ answerTokens: 12 });
    }
  });

  it('answers no_context with no sources, no model call and no cost when the notes do not cover it', async () => {
    const before = fake.counters().requests;
    const outside = await answer('What is the boiling point of tungsten?');
    expect(fake.counters().requests).toBe(before);
    expect(outside.row).toMatchObject({
      status: 'succeeded',
      outcome: 'no_context',
      sources: [],
      provider: 'none',
      model: 'none',
      costMicros: 0,
      promptTokens: 0,
    });
    expect(outside.row.answer).toMatch(/couldn't find anything in your notes/);
    expect(shape(outside.events)).toEqual(['queued', 'started', 'sources', 'token…', 'done']);
    const done = outside.events.at(-1);
    expect(done?.type === 'done' && done.result).toMatchObject({ outcome: 'no_context', sources: [] });
    // The answered question before it reports its outcome too.
    expect(first.row.outcome).toBe('answered');
  });
});
