// Benchmark: time to first token through the system, against calling the fake LLM directly.
//
// The system as deployed (startStack: a real API process and a real worker process with the
// real ONNX model, real Redis and Postgres), the LLM being the fake OpenAI-compatible server with
// a fixed time to first token. Through the system: from sending POST /v1/queries to the first
// `token` event on GET /v1/queries/:id/events (admission, enqueue, queue hop, query embedding,
// retrieval, prompt, the LLM call, the first append, the API's stream reader, SSE). Directly: from
// sending a streaming chat completion to the fake to its first content chunk. Low load: one
// question at a time, each new (no cache hit). The user has no notes, so retrieval finds nothing.
//
// Run: npm run bench -w @assistant/api, or npx tsx apps/api/bench/ttft.bench.ts [--quick] [--built]
// --built: the API and the worker as the image runs them, `node apps/<app>/dist/main.js`
// (`npm run build` first); without it, their TypeScript sources through tsx.
import { readSse, startStack } from '@assistant/testing';
import { startFakeLlmProcess } from './fake-llm-process.ts';
import { printTable, QUICK, summarize } from './measure.ts';

const QUESTIONS = QUICK ? 10 : 40;
const WARM_UP = 3;
const TTFT_MS = 50;
const TARGET_EXTRA_MS = 15;
const BUILT = process.argv.includes('--built');
const UNLIMITED = 1_000_000_000;

const fake = await startFakeLlmProcess({ ttftMs: TTFT_MS, answerTokens: 20, tokensPerSecond: 200 });
const stack = await startStack(
  'ttft_bench',
  {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    TIERS_JSON: JSON.stringify({
      internal: { perMinute: UNLIMITED, perHour: UNLIMITED, perDay: UNLIMITED, maxInFlight: 1_000 },
    }),
  },
  { built: BUILT },
);

try {
  const { api_key } = await stack.createUser('internal');
  const auth = { authorization: `Bearer ${api_key}` };

  // When each event of the answer reached the client, from the submit: where the time goes.
  const stages: Record<'accepted' | 'started' | 'sources' | 'token', number[]> = {
    accepted: [],
    started: [],
    sources: [],
    token: [],
  };
  async function throughSystem(i: number, record = true): Promise<number> {
    const begin = performance.now();
    const res = await fetch(`${stack.api.url}/v1/queries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ query: `TTFT benchmark question ${i}: what did I note about item ${i}?` }),
    });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
    const { links } = (await res.json()) as { links: { events: string } };
    if (record) stages.accepted.push(performance.now() - begin);
    const events = await fetch(`${stack.api.url}${links.events}`, { headers: auth });
    let first = Number.NaN;
    await readSse(events.body!, (event) => {
      if (record && (event.event === 'started' || event.event === 'sources')) {
        stages[event.event].push(performance.now() - begin);
      }
      if (event.event === 'token') {
        first = performance.now() - begin;
        if (record) stages.token.push(first);
        return 'stop';
      }
      if (event.event === 'error' || event.event === 'done') throw new Error(`no token: ${event.data}`);
      return undefined;
    });
    return first;
  }

  async function direct(i: number): Promise<number> {
    const begin = performance.now();
    const res = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'fake-model',
        stream: true,
        messages: [
          { role: 'user', content: `TTFT benchmark question ${i}: what did I note about item ${i}?` },
        ],
      }),
    });
    let first = Number.NaN;
    await readSse(res.body!, (event) => {
      const chunk = JSON.parse(event.data) as { choices: { delta: { content?: string } }[] };
      if (chunk.choices[0]?.delta.content) {
        first = performance.now() - begin;
        return 'stop';
      }
      return undefined;
    });
    return first;
  }

  console.log(
    `ttft.bench: Node ${process.version}; fake LLM TTFT ${TTFT_MS} ms; ${QUESTIONS} questions, one at a time, ` +
      `API + 1 worker process (${BUILT ? 'the production build' : 'TypeScript sources through tsx'})`,
  );
  for (let i = 0; i < WARM_UP; i++) {
    await direct(-1 - i);
    await throughSystem(-1 - i, false);
  }
  const directTimes: number[] = [];
  const systemTimes: number[] = [];
  for (let i = 0; i < QUESTIONS; i++) {
    directTimes.push(await direct(i));
    systemTimes.push(await throughSystem(i));
  }
  const d = summarize(directTimes);
  const s = summarize(systemTimes);
  printTable([
    ['path', 'p50 ms', 'p99 ms', 'mean ms', 'p50 − direct ms'],
    ['fake LLM directly (first content chunk)', d.p50, d.p99, d.mean, ''],
    ['through the system (first token event)', s.p50, s.p99, s.mean, s.p50 - d.p50],
  ]);
  console.log('\nthrough the system, when each step reached the client (ms after sending the POST):');
  printTable([
    ['step', 'p50 ms', 'p99 ms'],
    ...(['accepted', 'started', 'sources', 'token'] as const).map((step) => {
      const x = summarize(stages[step]);
      const label = {
        accepted: '202 received (admission + enqueue)',
        started: "'started' event (queue hop, job claimed)",
        sources: "'sources' event (query embedded, retrieval done)",
        token: "first 'token' event (LLM TTFT, append, SSE)",
      }[step];
      return [label, x.p50, x.p99];
    }),
  ]);
  console.log(
    `target 6 (TTFT through the system ≤ direct + ${TARGET_EXTRA_MS} ms at low load): ` +
      `${s.p50 - d.p50 <= TARGET_EXTRA_MS ? 'met' : 'NOT met'} (p50 +${(s.p50 - d.p50).toFixed(1)} ms)`,
  );
} finally {
  await stack.stop();
  await fake.close();
  console.log('cleaned up: processes stopped, Redis prefix and database removed');
}
