// Benchmark: what a polite refusal costs, against a bare Hono route answering the same 503.
//
// The real API with its answer queue full (QUEUE_MAX_WAITING=1, one question waiting, no worker
// consumes): every new question is refused by the backlog gate, 503 `overloaded` with
// Retry-After, after auth, body validation and the exact-cache lookup (a hit would still be
// served). Side by side, in the same process and run, a bare Hono route that parses the same JSON
// and answers 503. A spike is mostly refusals (target 3 of issue 11: refusal p99 ≤ 50 ms at
// 500 q/s on a shared 2-core host), so their CPU decides how long the rest wait. Closed loops of
// 16 clients; CPU is this process's (server and client alike: compare the two rows).
//
// Run: npm run bench -w @assistant/api (all benches) or npx tsx apps/api/bench/refusal.bench.ts [--quick]
import { availableParallelism } from 'node:os';
import { Hono } from 'hono';
import { createTestApp } from '../src/test-app.ts';
import { closedLoop, listen, printTable, QUICK } from './measure.ts';

const REQUESTS = QUICK ? 500 : 4_000;
const CLIENTS = 16;
const ROUNDS = QUICK ? 1 : 3;
const UNLIMITED = 1_000_000_000;

const t = await createTestApp('refusal_bench', {
  env: {
    TIERS_JSON: JSON.stringify({
      internal: { perMinute: UNLIMITED, perHour: UNLIMITED, perDay: UNLIMITED, maxInFlight: 1_000_000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: String(UNLIMITED),
    QUEUE_MAX_WAITING: '1',
    QUEUE_BACKLOG_REFRESH_MS: '100',
  },
});
const bare = new Hono();
bare.post('/bare', async (c) => {
  await c.req.json();
  c.header('Retry-After', '2');
  return c.json({ error: { code: 'overloaded', message: 'server overloaded; retry shortly' } }, 503);
});
const [apiServer, bareServer] = await Promise.all([listen(t.app.fetch), listen(bare.fetch)]);

try {
  const user = await t.createUser('internal');
  const headers = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };
  let asked = 0;
  const body = () => JSON.stringify({ query: `Refusal benchmark question ${asked++}: what did I write?` });
  const first = await fetch(`${apiServer.url}/v1/queries`, { method: 'POST', headers, body: body() });
  if (first.status !== 202) throw new Error(`the first question was not accepted: ${first.status}`);
  // The gate reads the backlog in the background: wait until it refuses.
  for (let i = 0; ; i++) {
    const res = await fetch(`${apiServer.url}/v1/queries`, { method: 'POST', headers, body: body() });
    await res.arrayBuffer();
    if (res.status === 503) break;
    if (i > 100) throw new Error(`the backlog gate never closed (last status ${res.status})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  async function refused(): Promise<string> {
    const res = await fetch(`${apiServer.url}/v1/queries`, { method: 'POST', headers, body: body() });
    const answer = (await res.json()) as { error?: { code: string } };
    const ok = res.status === 503 && answer.error?.code === 'overloaded' && res.headers.has('retry-after');
    return ok ? 'ok' : `${res.status} ${answer.error?.code ?? ''}`;
  }
  async function bareRoute(): Promise<string> {
    const res = await fetch(`${bareServer.url}/bare`, { method: 'POST', headers, body: body() });
    await res.arrayBuffer();
    return res.status === 503 ? 'ok' : String(res.status);
  }
  async function measured(send: () => Promise<string>) {
    const cpu = process.cpuUsage();
    const result = await closedLoop(REQUESTS, CLIENTS, send);
    const used = process.cpuUsage(cpu);
    return { ...result, cpuMs: (used.user + used.system) / 1000 / REQUESTS };
  }

  console.log(
    `refusal.bench: Node ${process.version}; ${availableParallelism()} CPUs; closed loop, ${CLIENTS} clients, ` +
      `${REQUESTS} requests per route and round, ${ROUNDS} rounds alternating; over HTTP on 127.0.0.1`,
  );
  await closedLoop(200, CLIENTS, refused);
  await closedLoop(200, CLIENTS, bareRoute);
  const rows: (string | number)[][] = [
    ['round', 'route', 'p50 ms', 'p99 ms', 'req/s', 'CPU ms/request', 'p50 ×bare', 'CPU − bare ms'],
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    const b = await measured(bareRoute);
    const r = await measured(refused);
    rows.push([String(round), 'POST /bare → 503 (Hono)', b.p50, b.p99, b.perSecond, b.cpuMs, '', '']);
    rows.push([
      String(round),
      'POST /v1/queries → 503 overloaded',
      r.p50,
      r.p99,
      r.perSecond,
      r.cpuMs,
      r.p50 / b.p50,
      r.cpuMs - b.cpuMs,
    ]);
  }
  printTable(rows);
} finally {
  await Promise.allSettled([apiServer.close(), bareServer.close()]);
  await t.close();
  console.log('cleaned up: Redis prefix and database removed');
}
