import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import {
  createQueryClient,
  type QueryClient,
  type QueryEventRecord,
  type Stack,
  startService,
  startStack,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 6, "Build": graceful shutdown, tested. SIGTERM on a worker stops taking jobs and finishes
// the active ones within SHUTDOWN_GRACE_MS; SIGTERM on the API ends open SSE streams with a
// reconnect hint, and another API process resumes them from Last-Event-ID without gap or repeat.
const RECONNECT_HINT = 'server shutting down, reconnect with Last-Event-ID';

let stack: Stack;
let fake: RunningFakeLlm;
let client: QueryClient;

beforeAll(async () => {
  // A slow first token: the answer is surely active when the signal arrives.
  fake = await startFakeLlm({ settings: { ttftMs: 1_500, answerTokens: 10, tokensPerSecond: 20 } });
  stack = await startStack('shutdown', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    SHUTDOWN_GRACE_MS: '15000',
    SSE_HEARTBEAT_MS: '500',
  });
  client = createQueryClient(() => stack.api.url, (await stack.createUser()).api_key);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

async function ask(query: string): Promise<string> {
  const submitted = await client.submit(query);
  expect(submitted.status).toBe(202);
  return submitted.id!;
}

function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

describe('graceful shutdown', () => {
  it('a worker on SIGTERM takes no new job, finishes its active answer, and exits 0', async () => {
    const worker = stack.workers[0]!;
    const active = await ask('Shutdown drill: what did I plan for the weekend?');
    const streamed: QueryEventRecord[] = [];
    const stream = client.readEvents(active, {
      until: (e) => {
        streamed.push(e);
        return false;
      },
    });
    await waitUntil(() => streamed.some((e) => e.type === 'started'), { what: 'the answer started' });

    const exited = worker.stop('SIGTERM');
    await waitUntil(() => worker.output().includes('worker shutting down'), { what: 'SIGTERM handled' });
    const waiting = await ask('Shutdown drill: and what did I plan for Monday?');

    expect(await exited).toBe(0);
    await stream;
    // The active answer ran to its end on the stopping worker.
    expect(streamed.at(-1)?.type).toBe('done');
    expect(streamed.filter((e) => e.type === 'started')).toHaveLength(1);
    expect((await client.view(active)).status).toBe('succeeded');
    // The question submitted during shutdown was not taken by the stopping worker...
    expect((await client.view(waiting)).status).toBe('queued');
    // ...and is not lost: the next worker answers it.
    await stack.addWorker();
    expect((await client.waitFinished(waiting, 30_000)).status).toBe('succeeded');
  }, 60_000);

  it('the API on SIGTERM ends an open SSE stream with a reconnect hint; another API resumes it without gap or repeat', async () => {
    const id = await ask('Shutdown drill: what is on the shopping list?');
    const first: QueryEventRecord[] = [];
    const comments: string[] = [];
    let ended = 0;
    const firstStream = client
      .readEvents(id, {
        until: (e) => {
          first.push(e);
          return false;
        },
        onComment: (text) => comments.push(text),
      })
      .finally(() => {
        ended = Date.now();
      });
    await waitUntil(() => first.some((e) => e.type === 'started'), { what: 'the answer started' });

    const oldApi = stack.api;
    const signalled = Date.now();
    const exitCode = await oldApi.stop('SIGTERM');
    await firstStream;
    expect(exitCode).toBe(0);
    expect(comments).toContain(RECONNECT_HINT);
    expect(ended - signalled).toBeLessThan(3_000); // promptly, not at the grace period's end
    expect(first.some((e) => e.type === 'done' || e.type === 'error')).toBe(false); // it was cut short

    // A new API process on the same Redis and database takes the reconnect.
    stack.api = await startService('api', { ...stack.env, PORT: '0', MIGRATE_ON_START: 'false' });
    const lastId = first.at(-1)!.id;
    const second = await client.readEvents(id, { lastEventId: lastId });

    const all = [...first, ...second];
    const ids = all.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // no repeat
    expect([...ids].sort(compareStreamIds)).toEqual(ids); // in order
    expect(all.map((e) => e.type).slice(0, 2)).toEqual(['queued', 'started']);
    expect(all.at(-1)?.type).toBe('done');
    const result = all.at(-1)!.payload.result as { answer: string };
    const tokens = all.filter((e) => e.type === 'token').map((e) => String(e.payload.text));
    expect(tokens.join('')).toBe(result.answer); // no gap
    // The full replay from the new API is exactly what the client pieced together.
    const replay = await client.readEvents(id);
    expect(replay.map((e) => e.id)).toEqual(ids);
  }, 60_000);
});
