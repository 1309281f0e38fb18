import type { Answer } from '@assistant/contracts';
import { createEventStream, createKeys } from '@assistant/queue';
import { readSse, type SseEvent, startTcpProxy, testServers } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

// The API's SSE streams and long-polls, over the real app and real Redis: many per process on the
// one stream reader, one ending per stream whatever Redis does, and shutdown ends them all.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
let t: TestApp;
let key: string;

const answer: Answer = {
  outcome: 'answered',
  answer: 'the roof is done',
  sources: [],
  model: 'm',
  provider: 'extractive',
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  cost_usd: 0,
  truncated: false,
};

// Room for many questions per user: this file is about streams, not limits.
const env = {
  TIERS_JSON: JSON.stringify({
    free: { perMinute: 10_000, perHour: 10_000, perDay: 10_000, maxInFlight: 1_000, maxRunning: 100 },
  }),
};

beforeAll(async () => {
  t = await createTestApp('sse-streams', { env });
  key = (await t.createUser()).api_key;
});

afterAll(async () => {
  await t?.close();
});

async function submit(app: TestApp, apiKey: string, query: string): Promise<string> {
  const res = await app.app.request('/v1/queries', {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Opens an SSE stream and records its events and comments until it ends. */
async function openStream(app: TestApp, apiKey: string, id: string) {
  const res = await app.app.request(`/v1/queries/${id}/events`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  expect(res.status).toBe(200);
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const ended = readSse(
    res.body!,
    (event) => {
      events.push(event);
    },
    (comment) => comments.push(comment),
  );
  return { events, comments, ended };
}

describe('SSE streams on the shared stream reader', () => {
  it('serves more than ten open streams in one process without a listener warning, each to its end', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => submit(t, key, `question ${i}`)));
      const streams = await Promise.all(ids.map((id) => openStream(t, key, id)));
      for (const id of ids) {
        await t.events.append(id, { type: 'token', text: `answer for ${id}` });
        await t.events.append(id, { type: 'done', result: answer });
      }
      await Promise.all(streams.map((s) => s.ended));
      streams.forEach((s, i) => {
        expect(s.events.map((e) => e.event)).toEqual(['queued', 'token', 'done']);
        expect(JSON.parse(s.events[1]!.data)).toEqual({ type: 'token', text: `answer for ${ids[i]}` });
      });
      // Long-polls share the reader too.
      const polled = await submit(t, key, 'poll me');
      const polling = t.app.request(`/v1/queries/${polled}?wait=5`, {
        headers: { authorization: `Bearer ${key}` },
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await t.events.append(polled, { type: 'done', result: answer });
      expect((await polling).status).toBe(200);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('ends every open stream with a reconnect hint when the process shuts down', async () => {
    const own = await createTestApp('sse-shutdown', { env });
    try {
      const ownKey = (await own.createUser()).api_key;
      const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => submit(own, ownKey, `wait ${i}`)));
      const streams = await Promise.all(ids.map((id) => openStream(own, ownKey, id)));
      const poll = own.app.request(`/v1/queries/${ids[0]}?wait=20`, {
        headers: { authorization: `Bearer ${ownKey}` },
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const began = Date.now();
      own.beginShutdown();
      await Promise.all(streams.map((s) => s.ended));
      expect((await poll).status).toBe(200);
      expect(Date.now() - began).toBeLessThan(2_000);
      for (const s of streams) {
        expect(s.events.map((e) => e.event)).toEqual(['queued']);
        expect(s.comments.some((c) => c.includes('reconnect with Last-Event-ID'))).toBe(true);
      }
    } finally {
      await own.close();
    }
  });

  it('rides out a Redis outage with heartbeats only: no error event, then the events, one ending', async () => {
    const proxy = await startTcpProxy({ port: Number(new URL(testServers.redisUrl).port || 6379) });
    const flaky = await createTestApp('sse-flaky', { redisUrl: proxy.url('redis'), env });
    try {
      const flakyKey = (await flaky.createUser()).api_key;
      const id = await submit(flaky, flakyKey, 'through the outage');
      const stream = await openStream(flaky, flakyKey, id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      proxy.setMode('reset');
      // The worker's appends go on (it reaches Redis directly) while the API's connections are cut.
      const direct = createEventStream(flaky.testRedis.redis, createKeys(flaky.testRedis.prefix), {
        ttlSeconds: 60,
      });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await direct.append(id, { type: 'token', text: 'written during the outage' });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      proxy.setMode('pass');
      await direct.append(id, { type: 'done', result: answer });
      await stream.ended;
      expect(stream.events.map((e) => e.event)).toEqual(['queued', 'token', 'done']);
      for (const event of stream.events) expect(() => JSON.parse(event.data)).not.toThrow();
      expect(stream.comments.some((c) => c === 'heartbeat')).toBe(true);
    } finally {
      await flaky.close();
      await proxy.close();
    }
  });
});
