import { answerOf, createCostsRepo } from '@assistant/db';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createFlagStore } from '@assistant/flags';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, startTestWorker, type TestWorker, type WorkerTestEnv } from './test-worker.ts';

// Classification routing in the worker as compose.ts builds it (real Redis, Postgres, BullMQ,
// ONNX model, the fake LLM over HTTP): a simple question goes to the cheap model and costs less
// in the ledger, a complex one to the dear model, a question the notes do not cover calls no
// model, and with the flag off for a user nothing is routed.
let env: WorkerTestEnv;
let fake: RunningFakeLlm;
let worker: TestWorker;
let routed: string;
let unrouted: string;
/** The ledger cost of a simple question routed to the small model (set by the first test). */
let routedSimpleMicros = 0;

// Prices per token in USD: the small model a tenth of the big one.
const PRICES = {
  'fake-small': { input_usd: 0.00000002, output_usd: 0.00000006 },
  'fake-big': { input_usd: 0.0000002, output_usd: 0.0000006 },
};

beforeAll(async () => {
  env = await createWorkerTestEnv('routing');
  fake = await startFakeLlm({ settings: { answerTokens: 10, tokensPerSecond: 0 } });
  worker = await startTestWorker(env, {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-big',
    LLM_SIMPLE_MODEL: 'fake-small',
    LLM_COMPLEX_MODEL: 'fake-big',
    LLM_PRICES_JSON: JSON.stringify(PRICES),
    RETRIEVAL_ANSWERABILITY: 'gate',
    FLAGS_REFRESH_MS: '100',
  });
  routed = await env.createUser('free');
  unrouted = await env.createUser('free');
  for (const userId of [routed, unrouted]) {
    await worker.indexedNote(userId, {
      title: 'Garden',
      body: 'Water the tomatoes twice a week at dawn. Basil likes afternoon shade. Fertilize every two weeks.',
    });
    await worker.indexedNote(userId, {
      title: 'Job offers',
      body: 'Northwind: $185k base, 20 days PTO, hybrid. Contoso: $172k base, equity, 25 days PTO, remote.',
    });
  }
  const store = createFlagStore(env.redis, env.keys, { now: Date.now });
  await store.set(
    'classification_routing',
    { enabled: true, percentage: 100, allow: [], deny: [unrouted] },
    { actor: 'test' },
  );
  await worker.worker.flags.refresh(true);
});
afterAll(async () => {
  await worker?.close();
  await fake?.close();
  await env?.close();
});

/** Answers a question afresh (no cache) and returns its stored row, ledger entry and `done` result. */
async function answer(userId: string, query: string) {
  const job = await worker.queueQuery(userId, query, { bypassCache: true });
  const before = fake.counters().requests;
  await worker.answerQueue.enqueue(job);
  const row = await worker.waitFinished(job.query_id);
  const stream = await worker.waitTerminal(job.query_id);
  const done = stream.map((s) => s.event).find((e) => e.type === 'done');
  const ledger = await createCostsRepo(env.db.db).entryOf(job.query_id);
  return {
    row,
    ledger,
    llmCalls: fake.counters().requests - before,
    result: done?.type === 'done' ? done.result : undefined,
  };
}

/** The worker's `assistant_query_routes_total` for a class and model, as /metrics shows it. */
async function routeCount(queryClass: string, model: string): Promise<number> {
  const text = await (await worker.worker.health.request('/metrics')).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('assistant_query_routes_total{') &&
        l.includes(`class="${queryClass}"`) &&
        l.includes(`model="${model}"`),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('classification routing in the worker', () => {
  it('sends simple questions to the cheap model and complex ones to the dear one, each priced as its model', async () => {
    const simple = [
      await answer(routed, 'How often do I water the tomatoes?'),
      await answer(routed, 'Where does the basil like to grow?'),
    ];
    const complex = [
      await answer(routed, 'Compare the two job offers on pay and vacation days.'),
      await answer(routed, 'Summarize everything my notes say about the garden.'),
    ];
    for (const { row, result, llmCalls } of simple) {
      expect(row).toMatchObject({ status: 'succeeded', model: 'fake-small', queryClass: 'simple' });
      expect(result?.route).toEqual({ class: 'simple', model: 'fake-small' });
      expect(answerOf(row).route).toEqual({ class: 'simple', model: 'fake-small' });
      expect(llmCalls).toBe(1);
    }
    for (const { row, result } of complex) {
      expect(row).toMatchObject({ status: 'succeeded', model: 'fake-big', queryClass: 'complex' });
      expect(result?.route).toEqual({ class: 'complex', model: 'fake-big' });
    }
    // The ledger charges each at its own model's price: a tenth per token for the simple ones.
    for (const { ledger, row } of [...simple, ...complex]) {
      const price = PRICES[row.model as keyof typeof PRICES];
      const expected = Math.round(
        ((row.promptTokens ?? 0) * price.input_usd + (row.completionTokens ?? 0) * price.output_usd) * 1e6,
      );
      expect(ledger).toMatchObject({ model: row.model });
      expect(Math.abs(ledger!.costMicros - expected)).toBeLessThanOrEqual(1);
    }
    const mean = (xs: { ledger?: { costMicros: number } | undefined }[]) =>
      xs.reduce((n, x) => n + x.ledger!.costMicros, 0) / xs.length;
    expect(mean(simple)).toBeGreaterThan(0);
    routedSimpleMicros = simple[0]!.ledger!.costMicros;
    expect(mean(simple)).toBeLessThan(mean(complex) / 2);
    expect(await routeCount('simple', 'fake-small')).toBe(2);
    expect(await routeCount('complex', 'fake-big')).toBe(2);
  });

  it('answers a question the notes do not cover as no_context, calling no model, recorded as its class', async () => {
    const outside = await answer(routed, 'What is the boiling point of tungsten?');
    expect(outside.llmCalls).toBe(0);
    expect(outside.row).toMatchObject({
      status: 'succeeded',
      outcome: 'no_context',
      queryClass: 'no_context',
      model: 'none',
      costMicros: 0,
    });
    expect(outside.result?.route).toEqual({ class: 'no_context', model: 'none' });
    expect(outside.ledger?.costMicros ?? 0).toBe(0);
    expect(await routeCount('no_context', 'none')).toBe(1);
  });

  it("lets an experiment variant's model win over the class's model", async () => {
    const job = {
      ...(await worker.queueQuery(routed, 'How often do I water the tomatoes?', { bypassCache: true })),
      experiment: { experiment_id: 'exp_1', variant: 'big', model: 'fake-variant' },
    };
    await worker.answerQueue.enqueue(job);
    const row = await worker.waitFinished(job.query_id);
    expect(row).toMatchObject({ status: 'succeeded', model: 'fake-variant', queryClass: 'simple' });
    // A model outside the configured table is counted as `other`: the label set stays bounded.
    expect(await routeCount('simple', 'other')).toBe(1);
  });

  it("builds the prompt from the variant's template: answer@2 is another prompt", async () => {
    const query = 'Where does the basil like to grow?';
    const v1 = await answer(routed, query);
    const job = {
      ...(await worker.queueQuery(routed, query, { bypassCache: true })),
      experiment: { experiment_id: 'exp_2', variant: 'v2', prompt: 'answer@2' },
    };
    await worker.answerQueue.enqueue(job);
    const v2 = await worker.waitFinished(job.query_id);
    // answer@2's instructions are longer: the same question and notes make a longer prompt.
    expect(v2).toMatchObject({ status: 'succeeded', model: 'fake-small', queryClass: 'simple' });
    expect(v2.promptTokens!).toBeGreaterThan(v1.row.promptTokens!);
  });

  it('routes nothing for a user the flag is off for: the default model, no class', async () => {
    const simple = await answer(unrouted, 'How often do I water the tomatoes?');
    expect(simple.row).toMatchObject({ status: 'succeeded', model: 'fake-big', queryClass: null });
    expect(simple.result?.route).toBeUndefined();
    // The same question unrouted costs the default model's price.
    expect(simple.ledger!.costMicros).toBeGreaterThan(routedSimpleMicros * 5);
    const outside = await answer(unrouted, 'What is the boiling point of tungsten?');
    // The answerability gate still answers without a model; only the class is not recorded.
    expect(outside.llmCalls).toBe(0);
    expect(outside.row).toMatchObject({ outcome: 'no_context', queryClass: null });
  });

  it('records the routed model of a simple question whose cheap answer was escalated to the stronger model', async () => {
    // The cheap model now answers off the notes: a low score, escalated to LLM_MODEL (fake-big).
    fake.update({
      answersByModel: {
        'fake-small': 'The Eiffel Tower was completed in 1889 for the World Fair in Paris. [1]',
      },
    });
    const store = createFlagStore(env.redis, env.keys, { now: Date.now });
    await store.set(
      'escalation',
      { enabled: true, percentage: 0, allow: [routed], deny: [] },
      { actor: 'test' },
    );
    await worker.worker.flags.refresh(true);
    try {
      const escalated = await answer(routed, 'How often do I water the tomatoes?');
      expect(escalated.llmCalls).toBe(2);
      expect(escalated.row).toMatchObject({ status: 'succeeded', model: 'fake-big', queryClass: 'simple' });
      expect(escalated.row.escalation).toMatchObject({ model: 'fake-small', escalated_to: 'fake-big' });
      expect(escalated.result?.route).toEqual({ class: 'simple', model: 'fake-small' });
      expect(answerOf(escalated.row).route).toEqual({ class: 'simple', model: 'fake-small' });
    } finally {
      await store.set(
        'escalation',
        { enabled: false, percentage: 0, allow: [], deny: [] },
        { actor: 'test' },
      );
      await worker.worker.flags.refresh(true);
      fake.update({ answersByModel: {} });
    }
  });
});
