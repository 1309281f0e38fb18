import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { freePort, mapConcurrent, type Stack, scrapeMetric, startStack, waitUntil } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';

// Issue 10: a Redis that keeps nothing is killed mid-load and comes back empty. Every question
// the API accepted (202) must still end, answered or failed, exactly once: Postgres is the
// record, and the workers' reconciler re-enqueues the queries whose jobs were lost.
let redis: ChildProcess | undefined;
let port: number;
let stack: Stack;
let fake: RunningFakeLlm;

async function startRedis(): Promise<void> {
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await waitUntil(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    { what: `redis-server on ${port}`, timeoutMs: 10_000, intervalMs: 50 },
  );
}

beforeAll(async () => {
  port = await freePort();
  await startRedis();
  fake = await startFakeLlm({ settings: { answerTokens: 10, tokensPerSecond: 20, ttftMs: 300 } });
  stack = await startStack('redis-data-loss', {
    REDIS_URL: `redis://127.0.0.1:${port}`,
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    WORKER_CONCURRENCY: '32',
    RECONCILE_INTERVAL_MS: '500',
    RECONCILE_OLDER_THAN_MS: '3000',
    WORKER_LOCK_MS: '5000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    TIERS_JSON: JSON.stringify({
      free: { perMinute: 100_000, perHour: 100_000, perDay: 100_000, maxInFlight: 5000, maxRunning: 1000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: '100000',
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  redis?.kill('SIGKILL');
});

it('answers or ends every accepted question once after Redis restarts empty under load', async () => {
  const apiKey = (await stack.createUser()).api_key;
  const accepted: string[] = [];
  let killed = false;
  const load = mapConcurrent(
    Array.from({ length: 120 }, (_, i) => i),
    8,
    async (i) => {
      const res = await fetch(`${stack.api.url}/v1/queries`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'cache-control': 'no-store',
        },
        body: JSON.stringify({ query: `question number ${i} about the garden` }),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (res?.status === 202) accepted.push(((await res.json()) as { id: string }).id);
      else await res?.body?.cancel();
      if (i === 60 && !killed) {
        killed = true;
        redis?.kill('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await startRedis(); // empty: --save '' --appendonly no
      }
    },
  );
  await load;
  expect(killed).toBe(true);
  expect(accepted.length).toBeGreaterThan(60);

  const sql = postgres(stack.database.url, { max: 1, onnotice: () => {} });
  try {
    await waitUntil(
      async () => {
        const open = await sql`select count(*)::int as n from queries where status in ('queued', 'running')`;
        return open[0]!.n === 0;
      },
      { what: 'every accepted question ended', timeoutMs: 75_000, intervalMs: 500 },
    );
    const rows = await sql`select id, status from queries where id = any(${accepted})`;
    expect(rows).toHaveLength(accepted.length);
    const statuses = rows.map((r) => r.status as string);
    expect(statuses.filter((s) => s !== 'succeeded' && s !== 'failed')).toEqual([]);
    // Answered at most once: one ledger row per succeeded query, never two.
    await waitUntil(
      async () => {
        const ledger =
          await sql`select count(*)::int as n from cost_ledger where query_id = any(${accepted})`;
        return ledger[0]!.n === statuses.filter((s) => s === 'succeeded').length;
      },
      { what: 'one ledger row per answered question', timeoutMs: 30_000, intervalMs: 500 },
    );
    // Jobs were really lost, and the reconciler is what brought them back.
    const requeued = await scrapeMetric(stack.workers[0]!.url, 'assistant_reconciled_queries_total', {
      action: 'requeued',
    });
    expect(requeued).toBeGreaterThan(0);
  } finally {
    await sql.end();
  }
}, 180_000);
