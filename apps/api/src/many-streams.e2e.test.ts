import { createQueryClient, readSse, type Stack, startStack, waitUntil } from '@assistant/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

// Issue 9: every open SSE stream and long-poll once added an `abort` listener to one shared
// signal, so the eleventh printed a MaxListenersExceededWarning. This holds main's one-reader design
// to it at the process level: many streams, no warning, and shutdown still ends every one.
const STREAMS = 12;
const RECONNECT_HINT = 'server shutting down, reconnect with Last-Event-ID';

let stack: Stack;

beforeAll(async () => {
  // No worker: the query stays queued, so its streams and long-polls stay open.
  stack = await startStack('streams', { SSE_HEARTBEAT_MS: '500', MAX_WAIT_SECONDS: '30' }, { workers: 0 });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

it(`${STREAMS} open SSE streams and ${STREAMS} long-polls print no MaxListenersExceededWarning; SIGTERM ends them all`, async () => {
  const key = (await stack.createUser('internal')).api_key;
  const client = createQueryClient(() => stack.api.url, key);
  const submitted = await client.submit('How many streams can one API hold?');
  expect(submitted.status).toBe(202);
  const headers = { authorization: `Bearer ${key}` };

  const hints: number[] = [];
  let opened = 0;
  const streams = Array.from({ length: STREAMS }, async (_, i) => {
    const res = await fetch(`${stack.api.url}/v1/queries/${submitted.id}/events`, { headers });
    expect(res.status).toBe(200);
    opened++;
    await readSse(
      res.body!,
      () => {},
      (text) => {
        if (text === RECONNECT_HINT) hints.push(i);
      },
    );
  });
  const polls = Array.from({ length: STREAMS }, async () => {
    const res = await fetch(`${stack.api.url}/v1/queries/${submitted.id}?wait=30`, { headers });
    return res.status;
  });
  await waitUntil(() => opened === STREAMS, { what: 'every stream open' });
  // Past a heartbeat: every stream is inside its blocking read, registered for shutdown.
  await new Promise((r) => setTimeout(r, 1_000));
  expect(stack.api.output()).not.toContain('MaxListenersExceededWarning');

  const started = Date.now();
  expect(await stack.api.stop('SIGTERM')).toBe(0);
  await Promise.all(streams);
  expect(hints).toHaveLength(STREAMS);
  expect(await Promise.all(polls)).toEqual(Array(STREAMS).fill(200));
  expect(Date.now() - started).toBeLessThan(5_000); // promptly, not at the 30 s wait's end
  expect(stack.api.output()).not.toContain('MaxListenersExceededWarning');
}, 60_000);
