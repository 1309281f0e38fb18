// Benchmark: exact answer-cache hits through the real API, over real HTTP.
//
// Scenario 1, latency: POST /v1/queries answered from the exact cache (auth, the cache state and
// the answer in one auto-pipelined write, the admission Lua that also logs the hit for the
// write-behind writer; no Postgres statement once the process knows the user's generation from
// Postgres's announcements), sent open-loop at a fixed rate, side by side with a bare Hono route
// served the same way in the same process and run. Scenario 2, hit rate: a Zipf-distributed stream of questions where
// every miss is answered and stored as the worker would, against the product target (> 60%).
//
// The API is built exactly as main.ts builds it (createTestApp: a throw-away Redis prefix and
// database, removed at the end). The user is internal-tier with limits raised through TIERS_JSON
// so admission never refuses. The load generator shares the process (and its event loop) with
// both servers: absolute figures include client overhead, the same for both routes.
//
// Run: npm run bench -w @assistant/api   (REDIS_URL, DATABASE_URL; defaults to 127.0.0.1)
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { createAnswerCache } from '@assistant/cache';
import { answerSettings } from '@assistant/config';
import type { Answer } from '@assistant/contracts';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { ADMIN_TOKEN, createTestApp } from '../src/test-app.ts';
import { type OpenLoopResult, runOpenLoop } from './open-loop.ts';
import { createZipf, seededRandom } from './zipf.ts';

// Request rates (req/s) measured in turn, each for DURATION_MS per route; BENCH_RATES overrides.
const RATES = (process.env.BENCH_RATES ?? '50,100,200').split(',').map(Number);
const DURATION_MS = 10_000;
const WARM_UP_REQUESTS = 300;
const CLOSED_LOOP_REQUESTS = 500;
const LATENCY_QUESTIONS = 100;
const ZIPF = { questions: 1_000, s: 1.1, requests: 5_000, concurrency: 8, seed: 20_240_601 };
const TARGET_HIT_RATE = 0.6;

const UNLIMITED = 1_000_000_000;
const t = await createTestApp('cache_bench', {
  env: {
    TIERS_JSON: JSON.stringify({
      internal: { perMinute: UNLIMITED, perHour: UNLIMITED, perDay: UNLIMITED, maxInFlight: 1_000_000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: String(UNLIMITED),
    // Production defaults, where test-app lowers them for tests.
    DATABASE_POOL_SIZE: '10',
    API_KEY_CACHE_TTL_MS: '30000',
    // CACHE_HIT_WRITE_BEHIND=false in the environment measures hits stored before the reply.
    ...(process.env.CACHE_HIT_WRITE_BEHIND
      ? { CACHE_HIT_WRITE_BEHIND: process.env.CACHE_HIT_WRITE_BEHIND }
      : {}),
  },
});

function listen(fetch: (request: Request) => Response | Promise<Response>) {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    server.once('listening', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
  });
}

const bare = new Hono();
bare.get('/bare', (c) => c.json({ ok: true }));
const [apiServer, bareServer] = await Promise.all([listen(t.app.fetch), listen(bare.fetch)]);

try {
  const user = await t.createUser('internal');
  const auth = { authorization: `Bearer ${user.api_key}` };
  // One real note, cited by every stored answer (its version is proven by the generation).
  const created = await t.app.request('/v1/notes', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Wifi', body: 'The home wifi password is maple-sunrise-42.' }),
  });
  if (created.status !== 201) throw new Error(`note: ${created.status} ${await created.text()}`);
  const note = (await created.json()) as { id: string; version: number };

  // The worker's write path: same keys, same settings, same cache state as the API reads.
  const answers = createAnswerCache(t.redis, t.keys);
  const settings = answerSettings(t.config.llm);
  let state = await t.epochs.readCacheState(user.id, 'internal');
  async function storeAnswer(query: string): Promise<void> {
    const answer: Answer = {
      outcome: 'answered',
      answer: `From your note "Wifi": the home wifi password is maple-sunrise-42. [1] (${query})`,
      sources: [
        { note_id: note.id, title: 'Wifi', text: 'The home wifi password is maple-sunrise-42.', score: 0.9 },
      ],
      model: t.config.llm.model,
      provider: t.config.llm.provider,
      usage: { prompt_tokens: 120, completion_tokens: 24, total_tokens: 144 },
      cost_usd: 0.000039,
      truncated: false,
    };
    const result = await answers.set({
      state,
      query,
      settings,
      answer,
      evidence: [{ noteId: note.id, version: note.version }],
      fallback: false,
    });
    if (!result.stored) throw new Error(`answer not stored: ${result.reason}`);
  }

  function ask(query: string) {
    return fetch(`${apiServer.url}/v1/queries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
  }

  const latencyQuestion = (i: number) =>
    `Benchmark question ${i % LATENCY_QUESTIONS}: what is my wifi password?`;
  for (let i = 0; i < LATENCY_QUESTIONS; i++) await storeAnswer(latencyQuestion(i));

  async function hit(i: number): Promise<string> {
    const res = await ask(latencyQuestion(i));
    const body = (await res.json()) as { cached?: boolean; error?: { code: string } };
    if (res.status === 200 && body.cached === true) return 'ok';
    return `${res.status} ${body.error?.code ?? 'not cached'}`;
  }
  async function bareRoute(): Promise<string> {
    const res = await fetch(`${bareServer.url}/bare`);
    const body = (await res.json()) as { ok?: boolean };
    return res.status === 200 && body.ok === true ? 'ok' : String(res.status);
  }

  const info = await t.redis.info('server');
  console.log(
    `Node ${process.version}; ${availableParallelism()} CPUs; Redis ${info.match(/redis_version:(\S+)/)?.[1] ?? '?'}; ` +
      `open loop at ${RATES.join(', ')} req/s, ${DURATION_MS / 1000} s per route and rate, over HTTP on 127.0.0.1`,
  );
  for (let i = 0; i < WARM_UP_REQUESTS; i++) {
    const outcomes = [await hit(i), await bareRoute()];
    if (outcomes.some((o) => o !== 'ok')) throw new Error(`warm-up request failed: ${outcomes.join(', ')}`);
  }

  // Service time without queueing: one client, one request at a time.
  async function closedLoop(send: () => Promise<string>): Promise<number[]> {
    const latencies: number[] = [];
    for (let i = 0; i < CLOSED_LOOP_REQUESTS; i++) {
      const begin = performance.now();
      const outcome = await send();
      latencies.push(performance.now() - begin);
      if (outcome !== 'ok') throw new Error(`closed-loop request failed: ${outcome}`);
    }
    return latencies.sort((a, b) => a - b);
  }
  const at = (sorted: number[], p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  const closedBare = await closedLoop(bareRoute);
  let k = 0;
  const closedHit = await closedLoop(() => hit(k++));
  console.log(`\nclosed loop, 1 client, ${CLOSED_LOOP_REQUESTS} requests each (service time, no queueing):`);
  for (const [name, sorted] of [
    ['GET /bare (Hono)', closedBare],
    ['POST /v1/queries (hit)', closedHit],
  ] as const) {
    console.log(
      `  ${name.padEnd(22)} p50 ${at(sorted, 0.5).toFixed(2)} ms, p99 ${at(sorted, 0.99).toFixed(2)} ms, ` +
        `${(1000 / (sorted.reduce((a, b) => a + b, 0) / sorted.length)).toFixed(0)} req/s`,
    );
  }

  const cell = (n: number, width = 9) => n.toFixed(2).padStart(width);
  const failures = (r: OpenLoopResult) =>
    Object.entries(r.failed)
      .map(([what, n]) => `${n}× ${what}`)
      .join(', ') || '0';
  console.log(
    `\n${'req/s'.padStart(5)} | ${'route'.padEnd(22)} | ${'sent'.padStart(5)} | ${'p50 ms'.padStart(9)} | ` +
      `${'p90 ms'.padStart(9)} | ${'p99 ms'.padStart(9)} | ${'max ms'.padStart(9)} | ${'send lag ms'.padStart(11)} | failed`,
  );
  console.log('-'.repeat(118));
  for (const rate of RATES) {
    const bareResult = await runOpenLoop(rate, DURATION_MS, () => bareRoute());
    const hitResult = await runOpenLoop(rate, DURATION_MS, (i) => hit(i));
    for (const [name, r] of [
      ['GET /bare (Hono)', bareResult],
      ['POST /v1/queries (hit)', hitResult],
    ] as const) {
      console.log(
        `${String(rate).padStart(5)} | ${name.padEnd(22)} | ${String(r.sent).padStart(5)} | ${cell(r.p50)} | ` +
          `${cell(r.p90)} | ${cell(r.p99)} | ${cell(r.max)} | ${cell(r.maxSendLagMs, 11)} | ${failures(r)}`,
      );
    }
    console.log(
      `${String(rate).padStart(5)} | ${'ratio hit / bare'.padEnd(22)} | ${''.padStart(5)} | ` +
        `${cell(hitResult.p50 / bareResult.p50)} | ${cell(hitResult.p90 / bareResult.p90)} | ` +
        `${cell(hitResult.p99 / bareResult.p99)} | ${cell(hitResult.max / bareResult.max)} |`,
    );
  }

  // Scenario 2: Zipf traffic. A new epoch first, so nothing stored above can hit; then every
  // miss is answered and stored right away, as the worker would.
  const purge = await t.app.request('/v1/admin/cache/purge', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: 'user', user_id: user.id }),
  });
  if (purge.status !== 200) throw new Error(`purge: ${purge.status}`);
  state = await t.epochs.readCacheState(user.id, 'internal');

  const draw = createZipf(ZIPF.questions, ZIPF.s, seededRandom(ZIPF.seed));
  const workload = Array.from({ length: ZIPF.requests }, () => draw());
  const counts = { hit: 0, enqueued: 0, joined: 0, other: 0 };
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: ZIPF.concurrency }, async () => {
      while (next < workload.length) {
        const rank = workload[next++]!;
        const query = `Zipf question ${rank}: what did I note about item ${rank}?`;
        const res = await ask(query);
        const joined = res.headers.get('x-joined-query') === 'true';
        await res.arrayBuffer();
        if (res.status === 200) counts.hit += 1;
        else if (res.status === 202 && joined) counts.joined += 1;
        else if (res.status === 202) {
          counts.enqueued += 1;
          await storeAnswer(query);
        } else counts.other += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const distinct = new Set(workload).size;
  const hitRate = counts.hit / ZIPF.requests;
  console.log(
    `\nZipf workload: ${ZIPF.questions} distinct questions, s=${ZIPF.s}, ${ZIPF.requests} requests ` +
      `(${ZIPF.concurrency} concurrent clients, seed ${ZIPF.seed}), ${seconds.toFixed(1)} s`,
  );
  console.log(
    `  exact-cache hits ${counts.hit}, misses enqueued ${counts.enqueued}, joined in flight ${counts.joined}, ` +
      `other ${counts.other}`,
  );
  console.log(
    `  hit rate ${(hitRate * 100).toFixed(1)}% vs target > ${TARGET_HIT_RATE * 100}%: ` +
      `${hitRate > TARGET_HIT_RATE ? 'met' : 'NOT met'} ` +
      `(questions asked at least once: ${distinct}; first asks can never hit, so at most ` +
      `${(((ZIPF.requests - distinct) / ZIPF.requests) * 100).toFixed(1)}%)`,
  );
} finally {
  await Promise.allSettled([apiServer.close(), bareServer.close()]);
  await t.close();
  console.log('\ncleaned up: Redis prefix and database removed');
}
