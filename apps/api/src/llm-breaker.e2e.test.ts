import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import {
  createQueryClient,
  type QueryClient,
  type QueryView,
  type Stack,
  scrapeMetric,
  startStack,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 6, "Must show": with the LLM failing every call, questions still finish (the offline
// extractive answer, labelled) within a bounded time and the model's breaker opens; while it is
// open the provider is not called at all; once the provider recovers, the half-open trial after
// BREAKER_OPEN_MS succeeds and the primary model answers again. One worker process, so one breaker.
const LLM_MODEL = 'fake-model';
const BREAKER = `endpoint:${LLM_MODEL}`;
const FAILURES = 5;
// Long enough that a few questions surely fit in the open period on a loaded 2-core machine,
// short enough to wait for it: production runs 30 s.
const OPEN_MS = 6_000;
// Every question, failing LLM or not, must end within this.
const QUESTION_BOUND_MS = 10_000;

let stack: Stack;
let fake: RunningFakeLlm;
let client: QueryClient;
let worker: Stack['workers'][number];
let asked = 0;

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 8, tokensPerSecond: 0 } });
  stack = await startStack('breaker', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL,
    BREAKER_FAILURES: String(FAILURES),
    BREAKER_WINDOW_MS: '60000',
    BREAKER_OPEN_MS: String(OPEN_MS),
    LLM_TIMEOUT_MS: '5000',
    TIERS_JSON: JSON.stringify({
      free: { perMinute: 10_000, perHour: 10_000, perDay: 10_000, maxInFlight: 100, maxRunning: 100 },
    }),
  });
  worker = stack.workers[0]!;
  client = createQueryClient(() => stack.api.url, (await stack.createUser()).api_key);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

/** Asks a fresh question (distinct text: no cache, no single-flight) and waits for its end. */
async function askTimed(): Promise<{ view: QueryView; ms: number }> {
  const started = Date.now();
  const submitted = await client.submit(`Breaker drill ${++asked}: what is on my list number ${asked}?`);
  expect(submitted.status).toBe(202);
  const view = await client.waitFinished(submitted.id!, QUESTION_BOUND_MS + 5_000);
  return { view, ms: Date.now() - started };
}

const breakerState = () => scrapeMetric(worker.url, 'assistant_llm_breaker_state', { breaker: BREAKER });
const breakerEvents = async (event: string) =>
  (await scrapeMetric(worker.url, 'assistant_llm_breaker_events_total', { breaker: BREAKER, event })) ?? 0;

describe('the LLM breaker and fallback chain, end to end', () => {
  it('answers every question with the labelled extractive fallback, in bounded time, and opens the breaker', async () => {
    expect(await breakerState()).toBe(0);
    fake.update({ errorRate: 1, errorKinds: ['server_error'] });

    // One at a time, so each failure is counted before the next question reaches the breaker.
    for (let i = 0; i < FAILURES; i++) {
      const { view, ms } = await askTimed();
      expect(view).toMatchObject({ status: 'succeeded', model: 'extractive', cost_usd: 0, error: null });
      expect(ms).toBeLessThan(QUESTION_BOUND_MS);
    }
    // One provider call per question (no retry storm), every one of them failed.
    expect(fake.counters().requests).toBe(FAILURES);
    expect(fake.counters().outcomes.server_error).toBe(FAILURES);
    expect(await breakerEvents('failure')).toBe(FAILURES);
    expect(await breakerState()).toBe(2); // open
  });

  it('does not call the provider while the breaker is open', async () => {
    const requestsBefore = fake.counters().requests;
    const rejectedBefore = await breakerEvents('rejected');
    const results = await Promise.all([askTimed(), askTimed(), askTimed()]);
    for (const { view, ms } of results) {
      expect(view).toMatchObject({ status: 'succeeded', model: 'extractive' });
      expect(ms).toBeLessThan(QUESTION_BOUND_MS);
    }
    expect(await breakerState()).toBe(2); // still within BREAKER_OPEN_MS
    expect(fake.counters().requests).toBe(requestsBefore);
    expect(await breakerEvents('rejected')).toBe(rejectedBefore + 3);
  });

  it('uses the primary model again once the provider recovers and BREAKER_OPEN_MS has passed', async () => {
    fake.update({ errorRate: 0 });
    const recovered = Date.now();
    const view = await waitUntil(
      async () => {
        const { view, ms } = await askTimed();
        expect(view.status).toBe('succeeded');
        expect(ms).toBeLessThan(QUESTION_BOUND_MS);
        return view.model === LLM_MODEL ? view : undefined;
      },
      { what: 'an answer from the primary model', timeoutMs: OPEN_MS + 15_000, intervalMs: 500 },
    );
    // The breaker opened before `recovered`, so the first trial comes at most OPEN_MS later.
    expect(Date.now() - recovered).toBeLessThan(OPEN_MS + 5_000);
    expect(view.answer).toMatch(/^Fake answer to: /);
    expect(view.cost_usd).toBeGreaterThan(0);
    expect(await breakerState()).toBe(0); // the trial succeeded and closed it
    expect(await breakerEvents('success')).toBeGreaterThanOrEqual(1);
    expect(fake.counters().outcomes.ok).toBe(1); // exactly one trial went through, and it answered
  });
});
