import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createKeys } from '@assistant/queue';
import {
  createQueryClient,
  mapConcurrent,
  type ProxyMode,
  type QueryClient,
  readStoredEvents,
  type Stack,
  startStack,
  startTcpProxy,
  summarizeAttempts,
  type TcpProxy,
  testServers,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 6, "Must show": Redis goes away during a load of submits. The API and the worker reach
// Redis only through a fault-injecting TCP proxy (the test file's key prefix still isolates it).
// Every request gets a 2xx or a 503 with Retry-After, none hangs past its client timeout, and
// every accepted question is answered once Redis is back; readiness recovers by itself.
const CLIENT_TIMEOUT_MS = 8_000;
const LOOPS = 10;

let stack: Stack;
let fake: RunningFakeLlm;
let proxy: TcpProxy;
let client: QueryClient;
let asked = 0;

beforeAll(async () => {
  const redis = new URL(testServers.redisUrl);
  proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  fake = await startFakeLlm({ settings: { answerTokens: 5, tokensPerSecond: 50 } });
  stack = await startStack('redis-outage', {
    REDIS_URL: proxy.url('redis', redis.pathname),
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    WORKER_CONCURRENCY: '16',
    // Longer than the outage plus ioredis's reconnect backoff: this file is about Redis going
    // away, not about live workers losing their job locks (see crash-recovery.e2e.test.ts).
    WORKER_LOCK_MS: '8000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    TIERS_JSON: JSON.stringify({
      free: { perMinute: 100_000, perHour: 100_000, perDay: 100_000, maxInFlight: 5000, maxRunning: 1000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: '100000',
  });
  client = createQueryClient(() => stack.api.url, (await stack.createUser()).api_key);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
  await fake?.close();
});

/** One `POST /v1/queries` of the load, as the client saw it. */
type Outcome = {
  startedAt: number;
  ms: number;
  status?: number;
  retryAfter?: string | null;
  code?: unknown;
  id?: string;
  failure?: string;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `LOOPS` submit loops for `durationMs` while `faults` plays the proxy's script
 * (`[atMs, mode]` steps), and records every response.
 */
async function loadWithFaults(
  durationMs: number,
  faults: [number, ProxyMode][],
): Promise<{ outcomes: Outcome[]; began: number }> {
  const outcomes: Outcome[] = [];
  const began = Date.now();
  const end = began + durationMs;
  async function loop(): Promise<void> {
    while (Date.now() < end) {
      const startedAt = Date.now();
      try {
        const res = await client.submit(`Outage drill ${++asked}: what is item ${asked} on my list?`, {
          timeoutMs: CLIENT_TIMEOUT_MS,
        });
        const error = res.body.error as { code?: unknown } | undefined;
        outcomes.push({
          startedAt,
          ms: Date.now() - startedAt,
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          code: error?.code,
          ...(res.id ? { id: res.id } : {}),
        });
      } catch (error) {
        outcomes.push({ startedAt, ms: Date.now() - startedAt, failure: String(error) });
      }
      await sleep(100);
    }
  }
  async function script(): Promise<void> {
    for (const [atMs, mode] of faults) {
      await sleep(Math.max(0, began + atMs - Date.now()));
      proxy.setMode(mode);
    }
  }
  await Promise.all([script(), ...Array.from({ length: LOOPS }, loop)]);
  return { outcomes, began };
}

/**
 * The assertions every fault scenario shares: what each client got, and what became of it. Soft,
 * so one run reports every kind of violation at once, each with the requests or queries involved.
 */
async function expectNothingLostOrHung(
  outcomes: Outcome[],
  outage: { from: number; to: number },
): Promise<void> {
  const summary = (o: Outcome) => JSON.stringify(o);
  // Nothing hung past its timeout, no connection was dropped on the client.
  expect.soft(outcomes.filter((o) => o.failure).map(summary), 'hung or dropped requests').toEqual([]);
  // Every response is an acceptance or a 503 that says when to retry; never a 500.
  expect
    .soft(
      outcomes.filter((o) => o.status !== 202 && o.status !== 503).map(summary),
      'responses other than 202 or 503',
    )
    .toEqual([]);
  const refused = outcomes.filter((o) => o.status === 503);
  // The run exercised the outage: requests were in flight while Redis was away. (Some of them
  // may still get 202: a command sent before the cut is re-sent on reconnect within the deadline.)
  const exposed = outcomes.filter((o) => o.startedAt <= outage.to && o.startedAt + o.ms >= outage.from);
  expect.soft(exposed.length, 'requests in flight during the outage').toBeGreaterThan(0);
  expect
    .soft(
      refused.filter((o) => o.code !== 'dependency_unavailable' || !(Number(o.retryAfter) > 0)).map(summary),
      '503s without code dependency_unavailable and a Retry-After',
    )
    .toEqual([]);
  // Submits work again after the outage without any restart.
  expect
    .soft(
      outcomes.some((o) => o.status === 202 && o.startedAt > outage.to + 1_000),
      'accepting again',
    )
    .toBe(true);

  // Every accepted question ends, once.
  const accepted = outcomes.filter((o) => o.status === 202).map((o) => o.id!);
  expect(new Set(accepted).size).toBe(accepted.length);
  const views = await mapConcurrent(accepted, 20, (id) => client.waitFinished(id, 60_000));
  const keys = createKeys(stack.redis.prefix);
  const logs = await mapConcurrent(accepted, 20, (id) =>
    readStoredEvents(stack.redis.redis, keys.events(id)),
  );
  const unfinished: string[] = [];
  const notOneEnding: string[] = [];
  const garbled: string[] = [];
  logs.forEach((events, i) => {
    const view = views[i]!;
    const attempts = summarizeAttempts(events);
    const where = `${view.id} ${view.status} (${events.map((e) => e.type).join(',')})`;
    if (view.status !== 'succeeded' && view.status !== 'failed') unfinished.push(where);
    const ending = view.status === 'succeeded' ? 'done' : 'error';
    if (attempts.terminals.length !== 1 || events.at(-1)?.type !== ending) notOneEnding.push(where);
    // What a client shows (tokens after the last start) is the stored answer, token for token.
    if (view.status === 'succeeded' && attempts.finalText !== view.answer) {
      garbled.push(
        `${where}: streamed ${JSON.stringify(attempts.finalText)}, stored ${JSON.stringify(view.answer)}`,
      );
    }
  });
  expect.soft(unfinished, 'accepted questions that never finished').toEqual([]);
  expect.soft(notOneEnding, 'streams without exactly one terminal event, at the end').toEqual([]);
  expect.soft(garbled, 'streams whose tokens differ from the stored answer').toEqual([]);
}

async function readiness(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Redis outages under a load of submits', () => {
  it('answers 2xx or 503 + Retry-After while Redis is down, loses no accepted question, and recovers by itself', async () => {
    const during = sleep(4_000).then(() => readiness(stack.api.url));
    const { outcomes, began } = await loadWithFaults(8_000, [
      [3_000, 'reset'],
      [5_000, 'pass'],
    ]);

    // Fail closed while Redis is away.
    const down = await during;
    expect(down.status).toBe(503);
    expect((down.body.error as { code: string }).code).toBe('dependency_unavailable');
    // And ready again by itself, API and worker alike.
    for (const url of [stack.api.url, stack.workers[0]!.url]) {
      await waitUntil(async () => (await readiness(url)).status === 200, {
        what: `${url}/readyz back to 200`,
        timeoutMs: 10_000,
        intervalMs: 200,
      });
    }
    await expectNothingLostOrHung(outcomes, { from: began + 3_000, to: began + 5_000 });
  }, 120_000);

  it('answers 503 + Retry-After within the client timeout when Redis hangs instead of refusing', async () => {
    // A hung Redis (accepts, never answers), then restarted: connections are cut and come back.
    const { outcomes, began } = await loadWithFaults(9_000, [
      [2_000, 'blackhole'],
      [5_000, 'reset'],
      [5_500, 'pass'],
    ]);
    await waitUntil(async () => (await readiness(stack.api.url)).status === 200, {
      what: 'API readiness back to 200',
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    await expectNothingLostOrHung(outcomes, { from: began + 2_000, to: began + 5_500 });
  }, 120_000);

  it('does not repeat a token when the connection drops while its append is unanswered', async () => {
    // Latency on the proxy keeps every Redis reply in flight for a while; cutting the connections
    // then loses replies to appends Redis has already applied, which is what a real outage does
    // to the last commands before it.
    fake.update({ answerTokens: 30, tokensPerSecond: 30 });
    try {
      const submitted = await client.submit('Outage drill: what is the last thing on my list?');
      expect(submitted.status).toBe(202);
      const id = submitted.id!;
      await client.readEvents(id, { until: (e) => e.type === 'token' });
      proxy.setLatency(150);
      await sleep(300);
      proxy.setMode('reset');
      await sleep(300);
      proxy.setLatency(0);
      proxy.setMode('pass');

      const view = await client.waitFinished(id, 30_000);
      const events = await readStoredEvents(stack.redis.redis, createKeys(stack.redis.prefix).events(id));
      const attempts = summarizeAttempts(events);
      const where = events
        .map((e) => (e.type === 'token' ? JSON.stringify(e.payload.text) : e.type))
        .join(',');
      expect(view.status, where).toBe('succeeded');
      expect(attempts.terminals, where).toHaveLength(1);
      expect(events.at(-1)?.type, where).toBe('done');
      expect(attempts.finalText, where).toBe(view.answer);
    } finally {
      proxy.setLatency(0);
      proxy.setMode('pass');
      fake.update({ answerTokens: 5, tokensPerSecond: 50 });
    }
  }, 60_000);
});
