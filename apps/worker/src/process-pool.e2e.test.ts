import { readFileSync } from 'node:fs';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createQueryClient, type Stack, startStack, waitUntil } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// WORKER_PROCESSES=2: a real node:cluster primary and two real worker processes (each loading the
// ONNX model) behind one health port, consuming one queue.
let stack: Stack;
let fake: RunningFakeLlm;

beforeAll(async () => {
  // An answer takes ~1.5 s to begin: two of them in the fake at once means two consumers.
  fake = await startFakeLlm({ settings: { ttftMs: 1_500, answerTokens: 5, tokensPerSecond: 50 } });
  stack = await startStack('wpool', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    WORKER_PROCESSES: '2',
    WORKER_CONCURRENCY: '1',
    SHUTDOWN_GRACE_MS: '5000',
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

/** A process's niceness, field 19 of /proc/<pid>/stat (after the parenthesised command name). */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('WORKER_PROCESSES=2', () => {
  it('runs two consumers that answer questions, and SIGTERM stops them all', async () => {
    const pool = stack.workers[0]!;
    await waitUntil(() => pool.output().includes('worker pool ready'), { what: 'the pool ready' });
    const pids = [...pool.output().matchAll(/"pid":(\d+)[^\n]*"msg":"worker listening"/g)].map((m) =>
      Number(m[1]),
    );
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(pool.child.pid);
    // WORKER_NICE (default 10): each consumer yields shared cores to the API.
    expect(pids.map(niceOf)).toEqual([10, 10]);
    // Any process answers the shared health port.
    expect((await fetch(`${pool.url}/healthz`)).status).toBe(200);

    const client = createQueryClient(() => stack.api.url, (await stack.createUser('premium')).api_key);
    const submitted = await Promise.all(
      ['What is in my garden notes?', 'What did I plan for the trip?'].map((q) => client.submit(q)),
    );
    expect(submitted.map((s) => s.status)).toEqual([202, 202]);
    // WORKER_CONCURRENCY=1 per process: both answers in the LLM at once needs both processes.
    await waitUntil(() => fake.counters().inFlight === 2, {
      what: 'two answers in flight',
      timeoutMs: 10_000,
    });
    const views = await Promise.all(submitted.map((s) => client.waitFinished(s.id!, 20_000)));
    expect(views.map((v) => v.status)).toEqual(['succeeded', 'succeeded']);

    expect(await pool.stop('SIGTERM')).toBe(0);
    await waitUntil(() => pids.every((pid) => !alive(pid)), { what: 'every worker process gone' });
  }, 60_000);
});
