import type { QueryEvent } from '@assistant/contracts';
import {
  createCostsRepo,
  createExperimentsRepo,
  ledgerEntryOf,
  queries as queriesTable,
  rowOfAnswer,
} from '@assistant/db';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createFlagStore } from '@assistant/flags';
import { createBudget } from '@assistant/limits';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escalationReservation } from './pipeline/judge-answer.ts';
import { createWorkerTestEnv, startTestWorker, type TestWorker, type WorkerTestEnv } from './test-worker.ts';

// Answer scoring and escalation inside the worker as compose.ts builds it (real Redis, Postgres,
// BullMQ, the ONNX model; the fake LLM over HTTP). The fake answers per model: the default model
// (`fake-model`, also the escalation model) quotes the note, a cheap experiment model
// (`fake-cheap`) talks about something else.
let env: WorkerTestEnv;
let fake: RunningFakeLlm;
let worker: TestWorker;
let scored: string;
let unscored: string;
let plain: string;
/** Escalation on, nothing spent before its one question. */
let poor: string;

const NOTE = {
  title: 'Sourdough starter',
  body: 'Feed the sourdough starter every morning with equal parts rye flour and water. It doubles in about six hours.',
};
const GROUNDED =
  'Feed the sourdough starter every morning with equal parts rye flour and water. [1] It doubles in about six hours. [1]';
const UNRELATED =
  'The Eiffel Tower was completed in 1889 for the World Fair in Paris. [1] It is about 330 metres tall. [1]';
const QUESTION = 'How often should I feed my sourdough starter?';
// Prices (USD per token) by model, so each attempt's share of the cost is known.
const PRICES = {
  'fake-model': { input_usd: 0.000001, output_usd: 0.000002 },
  'fake-cheap': { input_usd: 0.0000001, output_usd: 0.0000002 },
};
const CHEAP = { experiment: { experiment_id: 'exp_q', variant: 'cheap', model: 'fake-cheap' } };

beforeAll(async () => {
  env = await createWorkerTestEnv('quality-pipeline');
  fake = await startFakeLlm({
    settings: { answersByModel: { 'fake-model': GROUNDED, 'fake-cheap': UNRELATED } },
  });
  worker = await startTestWorker(env, {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    LLM_PRICES_JSON: JSON.stringify(PRICES),
    FLAGS_REFRESH_MS: '100',
    QUALITY_ESCALATION_THRESHOLD: '0.5',
  });
  scored = await env.createUser('free');
  unscored = await env.createUser('free');
  plain = await env.createUser('free');
  poor = await env.createUser('free');
  for (const userId of [scored, unscored, plain, poor]) await worker.indexedNote(userId, NOTE);
  const store = createFlagStore(env.redis, env.keys, { now: Date.now });
  await store.set(
    'quality_scoring',
    { enabled: true, percentage: 100, allow: [], deny: [unscored] },
    { actor: 'test' },
  );
  // Escalation is off by default; on for `scored` and `poor` only.
  await store.set(
    'escalation',
    { enabled: true, percentage: 0, allow: [scored, poor], deny: [] },
    { actor: 'test' },
  );
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
  extra: { experiment?: (typeof CHEAP)['experiment'] } = {},
  options: Parameters<TestWorker['queueQuery']>[2] = { bypassCache: true },
) {
  const job = { ...(await worker.queueQuery(userId, query, options)), ...extra };
  if (extra.experiment) {
    // As the API records the assignment on the row.
    await env.db.db
      .update(queriesTable)
      .set({ experimentId: extra.experiment.experiment_id, experimentVariant: extra.experiment.variant })
      .where(eq(queriesTable.id, job.query_id));
  }
  await worker.answerQueue.enqueue(job);
  const row = await worker.waitFinished(job.query_id);
  const events = (await worker.waitTerminal(job.query_id)).map((stored) => stored.event);
  return { row, events };
}

const tokensAfterLastRestart = (events: QueryEvent[]) => {
  const from = events.map((e) => e.type).lastIndexOf('restart');
  return events
    .slice(from + 1)
    .flatMap((e) => (e.type === 'token' ? [e.text] : []))
    .join('');
};

async function metricsText(): Promise<string> {
  return (await worker.worker.health.request('/metrics')).text();
}

describe('answer quality scoring in the pipeline', () => {
  it('stores the score and its parts on the row and returns them in done (an answer copied from the note scores high)', async () => {
    const { row, events } = await answer(plain, QUESTION);
    expect(row).toMatchObject({
      status: 'succeeded',
      model: 'fake-model',
      answer: GROUNDED,
      escalation: null,
    });
    expect(row.qualityScore).toBeGreaterThan(0.8);
    expect(row.quality).toMatchObject({
      score: row.qualityScore,
      groundedness: 1,
      citation_coverage: 1,
      citation_validity: 1,
      sentences: 2,
      no_context: false,
      truncated: false,
    });
    const done = events.at(-1);
    expect(done?.type === 'done' && done.result.quality).toEqual(row.quality);
    expect(await metricsText()).toMatch(
      /assistant_answer_quality_score_count\{service="worker",source="primary",escalated="false"\} [1-9]/,
    );
  });

  it('skips scoring for a user the quality_scoring flag is off for', async () => {
    const { row, events } = await answer(unscored, QUESTION);
    expect(row).toMatchObject({ status: 'succeeded', qualityScore: null, quality: null });
    const done = events.at(-1);
    expect(done?.type === 'done' && 'quality' in done.result).toBe(false);
  });

  it('leaves a low-scoring answer as it is with the escalation flag off', async () => {
    const experiments = createExperimentsRepo(env.db.db);
    await experiments.create({
      id: 'exp_q',
      name: 'cheap model',
      variants: [
        { name: 'control', weight: 1 },
        { name: 'cheap', weight: 1, model: 'fake-cheap' },
      ],
    });
    await experiments.start('exp_q');
    const before = fake.counters().requests;
    const { row, events } = await answer(plain, QUESTION, CHEAP);
    expect(fake.counters().requests).toBe(before + 1);
    expect(row).toMatchObject({ model: 'fake-cheap', answer: UNRELATED, escalation: null });
    expect(row.qualityScore).toBeLessThan(0.2);
    expect(events.some((e) => e.type === 'restart')).toBe(false);
    // The experiment's results read the stored score.
    const [figures] = await experiments.figures('exp_q');
    expect(figures).toMatchObject({ variant: 'cheap', scored: 1 });
    expect(figures!.meanQuality).toBeCloseTo(row.qualityScore!, 4);
  });

  it('escalates a low-scoring cheap answer to the stronger model once: restart, both attempts recorded, both costs counted', async () => {
    const before = fake.counters().requests;
    const { row, events } = await answer(scored, QUESTION, CHEAP);
    expect(fake.counters().requests).toBe(before + 2);

    // The second answer is the one stored, streamed after the restart, and scored again.
    expect(row).toMatchObject({ status: 'succeeded', model: 'fake-model', answer: GROUNDED });
    expect(row.qualityScore).toBeGreaterThan(0.8);
    const restart = events.find((e) => e.type === 'restart');
    expect(restart?.type === 'restart' && restart.reason).toMatch(/quality score .* below 0\.5; fake-model/);
    expect(tokensAfterLastRestart(events)).toBe(GROUNDED);

    // The first attempt: its model, score, usage and cost.
    const first = row.escalation!;
    expect(first).toMatchObject({ model: 'fake-cheap', provider: 'endpoint', escalated_to: 'fake-model' });
    expect(first.score).toBeLessThan(0.2);
    // Nano-dollars per token → micro-dollars, rounded up as every cost is.
    const cheapMicros = Math.ceil(
      (first.usage.prompt_tokens * 100 + first.usage.completion_tokens * 200) / 1000,
    );
    expect(first.cost_usd).toBeCloseTo(cheapMicros / 1e6, 9);
    const strongPrompt = row.promptTokens! - first.usage.prompt_tokens;
    const strongCompletion = row.completionTokens! - first.usage.completion_tokens;
    expect(strongCompletion).toBe(GROUNDED.split(' ').length);
    const strongMicros = Math.ceil((strongPrompt * 1000 + strongCompletion * 2000) / 1000);
    expect(row.costMicros).toBe(cheapMicros + strongMicros);

    // One ledger entry with the sum; the budget spent the sum and holds no reservation.
    const ledger = await createCostsRepo(env.db.db).entryOf(row.id);
    expect(ledger).toMatchObject({ costMicros: row.costMicros, model: 'fake-model' });
    const spent = await createBudget(env.redis, env.keys).spent(scored);
    expect(spent.userMicros).toBe(row.costMicros);
    expect(spent.userReservedMicros).toBe(0);

    const done = events.at(-1);
    expect(done?.type === 'done' && done.result.escalation).toEqual(first);
    const text = await metricsText();
    expect(text).toMatch(/assistant_answer_escalations_total\{outcome="escalated"[^}]*\} 1/);
    expect(text).toMatch(
      /assistant_answer_quality_score_count\{service="worker",source="primary",escalated="true"\} 1/,
    );
  });

  it('keeps the quality of a cached answer it serves again, not the escalation (that was the first query’s spend)', async () => {
    const question = 'When should the sourdough starter be fed?';
    const { row: first } = await answer(scored, question, CHEAP, {});
    expect(first.escalation).not.toBeNull();
    const before = fake.counters().requests;
    const { row: again } = await answer(scored, question, CHEAP, {});
    expect(fake.counters().requests).toBe(before);
    expect(again).toMatchObject({ cached: true, costMicros: 0, escalation: null, answer: first.answer });
    expect(again.quality).toEqual(first.quality);
    expect(again.qualityScore).toBe(first.qualityScore);
  });

  it('keeps the first answer when the budget cannot cover the escalation', async () => {
    const before = fake.counters().requests;
    // Enough for the cheap model's worst case, not for the stronger one's on top.
    const { row, events } = await answer(poor, 'Does the sourdough starter like rye?', CHEAP, {
      bypassCache: true,
      limits: { dailyBudgetMicros: 500 },
    });
    expect(fake.counters().requests).toBe(before + 1);
    expect(row).toMatchObject({ status: 'succeeded', model: 'fake-cheap', escalation: null });
    expect(row.qualityScore).toBeLessThan(0.5);
    expect(events.some((e) => e.type === 'restart')).toBe(false);
    expect(await metricsText()).toMatch(
      /assistant_answer_escalations_total\{outcome="budget_refused"[^}]*\} 1/,
    );
  });

  it('settles both reservations of an escalated answer a crashed run had stored, when its job replays', async () => {
    // The run stored the row (and its ledger entry), then died before settling.
    const job = await worker.queueQuery(poor, 'Which flour does the starter get?');
    const budget = createBudget(env.redis, env.keys);
    const limits = { userBudgetMicros: 1_000_000, globalBudgetMicros: 1_000_000_000 };
    await budget.reserve({ userId: poor, queryId: job.query_id, amountMicros: 300, ...limits });
    await budget.reserve({
      userId: poor,
      queryId: escalationReservation(job.query_id),
      amountMicros: 900,
      ...limits,
    });
    const before = await budget.spent(poor);
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
    const stored = await env.queries.markSucceeded(
      job.query_id,
      rowOfAnswer(
        {
          outcome: 'answered',
          answer: GROUNDED,
          sources: [],
          model: 'fake-model',
          provider: 'endpoint',
          usage,
          cost_usd: 0.000042,
          truncated: false,
          escalation: {
            model: 'fake-cheap',
            provider: 'endpoint',
            score: 0.1,
            usage,
            cost_usd: 0.000002,
            escalated_to: 'fake-model',
          },
        },
        { costMicros: 42, cached: false },
      ),
      (row) => ledgerEntryOf(row, { inputNanosPerToken: 1000, outputNanosPerToken: 2000 }, Date.now()),
    );
    expect(stored?.escalation).not.toBeNull();
    const requests = fake.counters().requests;
    await worker.answerQueue.enqueue(job);
    await worker.waitTerminal(job.query_id);
    expect(fake.counters().requests).toBe(requests);
    const after = await budget.spent(poor);
    expect(after.userReservedMicros).toBe(before.userReservedMicros - 1200);
    expect(after.userMicros).toBe(before.userMicros + 42);
  });

  it('does not escalate an answer of the escalation model itself', async () => {
    fake.update({ answersByModel: { 'fake-model': UNRELATED } });
    try {
      const before = fake.counters().requests;
      const { row } = await answer(scored, QUESTION);
      expect(fake.counters().requests).toBe(before + 1);
      expect(row).toMatchObject({ model: 'fake-model', escalation: null });
      expect(row.qualityScore).toBeLessThan(0.2);
    } finally {
      fake.update({ answersByModel: { 'fake-model': GROUNDED, 'fake-cheap': UNRELATED } });
    }
  });
});
