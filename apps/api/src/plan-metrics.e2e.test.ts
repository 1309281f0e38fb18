import { spawnSync } from 'node:child_process';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import {
  createQueryClient,
  type QueryClient,
  type Stack,
  sampleValue,
  startStack,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 12, "Must show": after a scripted mix (a generated answer, an exact-cache hit, a
// no_context answer, a rate-limited submit, an LLM failure answered by the fallback, a truncated
// answer, a question that fails on its budget, a user over their daily budget), each of the
// product plan's metrics moved as expected on /metrics of the API and the worker process, and
// `promtool check metrics` passes on both outputs.
const WIFI_NOTE = {
  title: 'Home wifi',
  body: 'The home wifi network is called Larkspur and its password is maple-sunrise-42. The router sits in the hallway cupboard.',
};

let stack: Stack;
let fake: RunningFakeLlm;

type Asker = { id: string; client: QueryClient; key: string };

async function newUser(limits?: Record<string, number>): Promise<Asker> {
  const user = await stack.createUser();
  if (limits) await stack.setLimits(user.id, limits);
  return { id: user.id, key: user.api_key, client: createQueryClient(() => stack.api.url, user.api_key) };
}

async function addNote(user: Asker): Promise<void> {
  const res = await fetch(`${stack.api.url}/v1/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(WIFI_NOTE),
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  await waitUntil(
    async () => {
      const note = (await (
        await fetch(`${stack.api.url}/v1/notes/${id}`, { headers: { authorization: `Bearer ${user.key}` } })
      ).json()) as { index_status: string };
      return note.index_status === 'indexed';
    },
    { what: 'note indexed', timeoutMs: 30_000 },
  );
}

async function askAndWait(user: Asker, query: string) {
  const submitted = await user.client.submit(query);
  expect(submitted.status).toBe(202);
  return user.client.waitFinished(submitted.id!, 30_000);
}

/** `promtool check metrics` on an exposition; its exit status and what it printed. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool not runnable (apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 8, tokensPerSecond: 0 } });
  stack = await startStack('plan_metrics', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    LLM_MAX_TOKENS: '12',
    LLM_TIMEOUT_MS: '5000',
    RETRIEVAL_ANSWERABILITY: 'gate',
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

describe('the product plan metrics after a scripted mix', () => {
  it('moves every plan metric on the API and the worker, and promtool accepts both', async () => {
    const alice = await newUser();
    await addNote(alice);

    // A generated answer, then the same question served from the exact cache by the API.
    const generated = await askAndWait(alice, 'What is the home wifi password?');
    expect(generated).toMatchObject({ status: 'succeeded', model: 'fake-model' });
    const hit = await alice.client.submit('What is the home wifi password?');
    expect(hit.status).toBe(200);

    // The notes hold nothing on it: no sources, no model call.
    const before = fake.counters().requests;
    const none = await askAndWait(alice, 'Which mirror coating did the Hubble telescope engineers choose?');
    expect(none).toMatchObject({ status: 'succeeded', model: 'none' });
    expect(fake.counters().requests).toBe(before);

    // The model fails: the offline answerer answers.
    fake.update({ errorRate: 1, errorKinds: ['server_error'] });
    const fallback = await askAndWait(alice, 'Where does the wifi router sit?');
    fake.update({ errorRate: 0 });
    expect(fallback).toMatchObject({ status: 'succeeded', model: 'extractive' });

    // A longer answer than LLM_MAX_TOKENS allows.
    fake.update({ answerTokens: 40 });
    const cut = await askAndWait(alice, 'What is the wifi network called?');
    fake.update({ answerTokens: 8 });
    expect(cut.status).toBe('succeeded');

    // Refused at admission by the per-minute window.
    const limited = await newUser({ perMinute: 0 });
    expect((await limited.client.submit('What is the home wifi password?')).status).toBe(429);

    // Accepted, then failed in the worker: the budget cannot cover the reservation.
    const broke = await newUser({ dailyBudgetMicros: 1 });
    await addNote(broke);
    const failed = await askAndWait(broke, 'What is the home wifi password?');
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });

    // Alice's spend today now reaches her (lowered) daily budget.
    expect(generated.cost_usd).toBeGreaterThan(0);
    await stack.setLimits(alice.id, { dailyBudgetMicros: 1 });

    const api = await scrape(stack.api.url);
    const worker = await scrape(stack.workers[0]!.url);
    const at = (text: string, name: string, labels: Record<string, string> = {}) =>
      sampleValue(text, name, labels) ?? 0;

    // assistant_queries_total: the API's cache hit and refusal, the worker's answers and failure.
    expect(at(api, 'assistant_queries_total', { status: 'succeeded' })).toBe(1);
    expect(at(api, 'assistant_queries_total', { status: 'refused' })).toBe(1);
    expect(at(worker, 'assistant_queries_total', { status: 'succeeded' })).toBe(4);
    expect(at(worker, 'assistant_queries_total', { status: 'failed' })).toBe(1);
    // assistant_query_duration_seconds: every answered question, cache hits included.
    expect(at(api, 'assistant_query_duration_seconds_count', { cache: 'exact', outcome: 'succeeded' })).toBe(
      1,
    );
    expect(
      at(worker, 'assistant_query_duration_seconds_count', { cache: 'miss', outcome: 'succeeded' }),
    ).toBe(4);
    expect(at(worker, 'assistant_query_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    // assistant_rate_limit_hits (recorded over this counter).
    expect(at(api, 'assistant_rate_limit_hits_total', { limit: 'user_minute' })).toBe(1);
    // assistant_cache_hit_rate (recorded over the cache events and query durations).
    expect(at(api, 'assistant_cache_events_total', { tier: 'exact', outcome: 'hit' })).toBeGreaterThanOrEqual(
      1,
    );
    // assistant_no_context_rate (recorded over answers by source).
    expect(at(worker, 'assistant_answers_total', { source: 'no_context' })).toBe(1);
    expect(at(worker, 'assistant_answers_total', { source: 'extractive' })).toBe(1);
    // assistant_generation_failures: the failed model call behind the fallback.
    expect(at(worker, 'assistant_generation_failures_total', { model: 'fake-model' })).toBeGreaterThanOrEqual(
      1,
    );
    // assistant_truncations_total: every answer the token limit cut (the long one, and the
    // offline answerer's quote, which LLM_MAX_TOKENS holds to 12 tokens too).
    const truncated = [generated, fallback, cut].filter((view) => view.truncated);
    expect(truncated).toContain(cut);
    expect(at(worker, 'assistant_truncations_total', { kind: 'answer' })).toBe(truncated.length);
    // assistant_query_tokens_total and the per-answer distribution.
    expect(at(worker, 'assistant_query_tokens_total', { model: 'fake-model', direction: 'completion' })).toBe(
      (generated.usage?.completion_tokens ?? 0) + (cut.usage?.completion_tokens ?? 0),
    );
    expect(at(worker, 'assistant_answer_tokens_count', { direction: 'completion' })).toBe(3);
    // assistant_api_cost_usd (recorded over this counter): the two model answers' cost.
    expect(at(worker, 'assistant_api_cost_usd_total', { model: 'fake-model' })).toBeCloseTo(
      (generated.cost_usd ?? 0) + (cut.cost_usd ?? 0),
      9,
    );
    // assistant_errors_total: the failed question's code.
    expect(at(worker, 'assistant_errors_total', { type: 'budget_exceeded' })).toBe(1);
    // assistant_concurrent_queries: nothing in progress any more.
    expect(sampleValue(worker, 'assistant_concurrent_queries')).toBe(0);
    // A user over their daily budget, from the ledger.
    expect(sampleValue(worker, 'assistant_users_over_daily_budget')).toBe(1);

    for (const text of [api, worker]) {
      const check = promtoolCheck(text);
      expect(check.output).toBe('');
      expect(check.status).toBe(0);
    }
  }, 180_000);
});
