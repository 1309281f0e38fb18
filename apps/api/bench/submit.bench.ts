// Benchmark: admission + enqueue through the real API, over real HTTP.
//
// POST /v1/queries with a question never asked before (an exact-cache miss): auth, cache state,
// cache read, admission Lua, the query row in Postgres, the first event and the BullMQ job. No
// worker consumes, so every request takes the full miss path and nothing else competes for
// Redis. Side by side with a bare Hono route that parses the same JSON body, served the same
// way in the same process and run, in closed loops of 1, 4 and 16 concurrent clients.
//
// Run: npm run bench -w @assistant/api (all benches) or npx tsx apps/api/bench/submit.bench.ts [--quick]
import { availableParallelism } from 'node:os';
import { Hono } from 'hono';
import { createTestApp } from '../src/test-app.ts';
import { closedLoop, listen, printTable, QUICK } from './measure.ts';

const REQUESTS = QUICK ? 200 : 1_000;
const CONCURRENCIES = [1, 4, 16];
const WARM_UP = 100;
const UNLIMITED = 1_000_000_000;

const t = await createTestApp('submit_bench', {
  env: {
    TIERS_JSON: JSON.stringify({
      internal: { perMinute: UNLIMITED, perHour: UNLIMITED, perDay: UNLIMITED, maxInFlight: 1_000_000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: String(UNLIMITED),
    DATABASE_POOL_SIZE: '10',
    API_KEY_CACHE_TTL_MS: '30000',
  },
});
const bare = new Hono();
bare.post('/bare', async (c) => c.json({ ok: true, length: JSON.stringify(await c.req.json()).length }, 202));
const [apiServer, bareServer] = await Promise.all([listen(t.app.fetch), listen(bare.fetch)]);

try {
  const user = await t.createUser('internal');
  const headers = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };
  let asked = 0;
  async function submit(): Promise<string> {
    const res = await fetch(`${apiServer.url}/v1/queries`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: `Submit benchmark question ${asked++}: what did I write about it?` }),
    });
    const body = (await res.json()) as { error?: { code: string } };
    return res.status === 202 ? 'ok' : `${res.status} ${body.error?.code ?? ''}`;
  }
  async function bareRoute(): Promise<string> {
    const res = await fetch(`${bareServer.url}/bare`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: `Submit benchmark question ${asked}: what did I write about it?` }),
    });
    await res.arrayBuffer();
    return res.status === 202 ? 'ok' : String(res.status);
  }

  console.log(
    `submit.bench: Node ${process.version}; ${availableParallelism()} CPUs; closed loop, ${REQUESTS} requests ` +
      `per route and concurrency, over HTTP on 127.0.0.1; no worker consumes`,
  );
  await closedLoop(WARM_UP, 4, submit);
  await closedLoop(WARM_UP, 4, bareRoute);

  const rows: (string | number)[][] = [
    ['clients', 'route', 'p50 ms', 'p99 ms', 'req/s', 'p50 ×bare', 'p99 ×bare', 'throughput % of bare'],
  ];
  for (const concurrency of CONCURRENCIES) {
    const b = await closedLoop(REQUESTS, concurrency, bareRoute);
    const s = await closedLoop(REQUESTS, concurrency, submit);
    rows.push([String(concurrency), 'POST /bare (Hono)', b.p50, b.p99, b.perSecond, '', '', '']);
    rows.push([
      String(concurrency),
      'POST /v1/queries (miss)',
      s.p50,
      s.p99,
      s.perSecond,
      s.p50 / b.p50,
      s.p99 / b.p99,
      `${((s.perSecond / b.perSecond) * 100).toFixed(0)}%`,
    ]);
  }
  printTable(rows);
  const waiting = await t.queue.queue.getWaitingCount();
  console.log(`jobs left waiting in the answer queue: ${waiting} (one per accepted question)`);
} finally {
  await Promise.allSettled([apiServer.close(), bareServer.close()]);
  await t.close();
  console.log('cleaned up: Redis prefix and database removed');
}
