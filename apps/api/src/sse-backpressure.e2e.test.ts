import net from 'node:net';
import { createEventStream, createKeys } from '@assistant/queue';
import {
  createQueryClient,
  readSse,
  type SseEvent,
  type Stack,
  scrapeMetric,
  startStack,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';

// SSE is written straight to each request's socket (sse-response.ts), with the socket's own
// backpressure: a client that stops reading holds back only its own stream, gets every event
// once it reads again, and a client that leaves ends its stream.
const TOKENS = 300;
// 300 × 32 KB: about 10 MB, far more than the loopback socket buffers hold.
const TOKEN_TEXT = 'x'.repeat(32 * 1024);

let stack: Stack;
let key: string;

beforeAll(async () => {
  // No worker: this test appends the query's events itself.
  stack = await startStack('sse_backpressure', {}, { workers: 0 });
  key = (await stack.createUser('internal')).api_key;
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

async function submit(question: string): Promise<string> {
  const submitted = await createQueryClient(() => stack.api.url, key).submit(question);
  expect(submitted.status).toBe(202);
  return submitted.id!;
}

/** A raw HTTP client on one socket: it reads the response head, then reads only when told to. */
function rawStream(path: string) {
  const socket = net.connect(stack.api.port, '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ${key}\r\n\r\n`);
  let text = '';
  const opened = new Promise<void>((resolve) => {
    socket.once('data', (chunk: Buffer) => {
      text += chunk.toString();
      socket.pause();
      resolve();
    });
  });
  return {
    opened,
    text: () => text,
    readOn() {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      socket.resume();
    },
    destroy() {
      socket.destroy();
    },
  };
}

async function openStreams(): Promise<number> {
  return (await scrapeMetric(stack.api.url, 'assistant_sse_connections')) ?? Number.NaN;
}

it('a client that stops reading holds back neither the other streams nor its own events', async () => {
  const id = await submit('Who reads slowly?');
  const events = createEventStream(stack.redis.redis, createKeys(stack.redis.prefix), { ttlSeconds: 600 });

  const slow = rawStream(`/v1/queries/${id}/events`);
  onTestFinished(() => slow.destroy());
  await slow.opened;
  expect(slow.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(slow.text().toLowerCase()).toContain('content-type: text/event-stream');

  const res = await fetch(`${stack.api.url}/v1/queries/${id}/events`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  const fast: SseEvent[] = [];
  const fastEnded = readSse(res.body!, (event) => {
    fast.push(event);
  });
  await waitUntil(async () => (await openStreams()) === 2, { what: 'both streams following' });

  for (let i = 0; i < TOKENS; i++) await events.append(id, { type: 'token', text: TOKEN_TEXT });
  // An `error` ends a stream as `done` does.
  await events.append(id, { type: 'error', error: { code: 'upstream_unavailable', message: 'gone' } });

  // The reading client gets everything and its ending while the other has read nothing more.
  await fastEnded;
  // `queued` was stored at submit.
  expect(fast.map((e) => e.event)).toEqual(['queued', ...Array(TOKENS).fill('token'), 'error']);
  expect(slow.text()).not.toContain('event: error');

  // Once it reads, the slow client gets every event, in order, each once, then the ending.
  slow.readOn();
  await waitUntil(() => slow.text().includes('event: error'), { what: 'the slow client reads to the end' });
  const ids = [...slow.text().matchAll(/^id: (\S+)$/gm)].map((m) => m[1]);
  expect(ids).toEqual(fast.map((e) => e.id));
  expect(slow.text().split('event: token\n').length - 1).toBe(TOKENS);
  slow.destroy();
  await waitUntil(async () => (await openStreams()) === 0, { what: 'no stream left open' });
}, 60_000);

it('a client that leaves mid-stream ends its stream on the server', async () => {
  const id = await submit('Who leaves early?');
  const left = rawStream(`/v1/queries/${id}/events`);
  onTestFinished(() => left.destroy());
  await left.opened;
  await waitUntil(async () => (await openStreams()) === 1, { what: 'the stream following' });
  left.destroy();
  // No event ever comes for this query: only the disconnect can end the stream.
  await waitUntil(async () => (await openStreams()) === 0, { what: 'the stream ended' });
});
