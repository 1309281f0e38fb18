import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  readSse,
  STACK_ADMIN_TOKEN,
  type Stack,
  startOtlpReceiver,
  startService,
  startStack,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// One question through the real API and worker processes, exporting OTLP/JSON to a receiver
// started here. The caller sends its own traceparent; the whole question must be one trace.
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const QUESTION = 'Where did I leave the spare bicycle keys last winter?';

let receiver: OtlpReceiver;
let fake: RunningFakeLlm;
let stack: Stack;
let apiKey: string;
let userId: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The primary model fails once (500): the chain falls back to the second model.
  fake = await startFakeLlm({ settings: { answerTokens: 12, failNext: 1, errorKinds: ['server_error'] } });
  stack = await startStack('tracing', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    LLM_FALLBACK_MODEL: 'fake-model-2',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    // Export batches every 100 ms instead of the SDK's 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '100',
    FLAGS_REFRESH_MS: '200',
  });
  const user = await stack.createUser();
  apiKey = user.api_key;
  userId = user.id;
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  await receiver?.close();
});

/** Submits `query` as a caller in trace `traceId`; returns the 202's body. */
async function ask(
  query: string,
  traceId: string,
  options: { key?: string; url?: string } = {},
): Promise<{ id: string; links: { self: string; events: string } }> {
  const res = await fetch(`${options.url ?? stack.api.url}/v1/queries`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.key ?? apiKey}`,
      'content-type': 'application/json',
      traceparent: `00-${traceId}-${CALLER_SPAN}-01`,
    },
    body: JSON.stringify({ query }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { id: string; links: { self: string; events: string } };
}

/** Long-polls a query until it is finished; returns its view. */
async function waitAnswered(
  self: string,
  options: { key?: string; url?: string } = {},
): Promise<{ status: string; answer: string; model: string }> {
  const res = await fetch(`${options.url ?? stack.api.url}${self}?wait=20`, {
    headers: { authorization: `Bearer ${options.key ?? apiKey}` },
  });
  return (await res.json()) as { status: string; answer: string; model: string };
}

/** The span's ancestors by parent id, nearest first, among the spans received. */
function ancestorsOf(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out: ReceivedSpan[] = [];
  for (let at = byId.get(span.parentSpanId); at; at = byId.get(at.parentSpanId)) out.push(at);
  return out;
}

const WORKER_SPANS = [
  'assistant.answer',
  'assistant.classify',
  'assistant.embed',
  'assistant.retrieve',
  'assistant.build_context',
  'assistant.semantic_cache',
  'assistant.reserve_budget',
  'assistant.generate',
  'assistant.score',
  'assistant.llm_attempt',
  'assistant.record',
  'assistant.settle_budget',
];
const API_SPANS = ['assistant.query', 'assistant.admission', 'assistant.cache_lookup', 'assistant.enqueue'];

describe('tracing across the queue', () => {
  it("keeps one question in one trace, the caller's, from the API's span through the job to every worker step", async () => {
    const { id, links } = await ask(QUESTION, CALLER_TRACE);
    const view = await waitAnswered(links.self);
    expect(view.status).toBe('succeeded');
    expect(view.model).toBe('fake-model-2');
    const sse = await fetch(`${stack.api.url}${links.events}`);
    await readSse(sse.body!, (event) => (event.event === 'done' ? 'stop' : undefined));

    const spans = await waitUntil(
      () => {
        const all = receiver.spans();
        const names = new Set(all.map((s) => s.name));
        const complete =
          [...API_SPANS, ...WORKER_SPANS, 'assistant.poll', 'assistant.events'].every((n) => names.has(n)) &&
          all.filter((s) => s.name === 'assistant.llm_attempt').length >= 2;
        return complete ? all : undefined;
      },
      { what: 'every span exported', timeoutMs: 20_000 },
    );

    // One trace, the caller's: the question's spans all carry its trace id.
    const question = spans.filter((s) => s.traceId === CALLER_TRACE);
    const query = question.find((s) => s.name === 'assistant.query')!;
    expect(query.parentSpanId).toBe(CALLER_SPAN);
    expect(query.service).toBe('assistant-api');
    // The fallback model answered: no cache or extractive fallback span.
    expect(new Set(question.map((s) => s.name))).toEqual(new Set([...API_SPANS, ...WORKER_SPANS]));
    expect(question.filter((s) => s.name === 'assistant.query')).toHaveLength(1);

    // Across the queue: each worker span descends from the API's assistant.query.
    for (const span of question.filter((s) => s.service === 'assistant-worker')) {
      expect(ancestorsOf(span, question).map((a) => a.spanId)).toContain(query.spanId);
    }
    const attempt = question.find((s) => s.name === 'assistant.answer')!;
    expect(attempt.parentSpanId).toBe(query.spanId);
    expect(attempt.attributes).toMatchObject({
      attempt: 1,
      retry: false,
      outcome: 'succeeded',
      query_id: id,
    });
    for (const step of [
      'assistant.embed',
      'assistant.retrieve',
      'assistant.build_context',
      'assistant.generate',
    ]) {
      expect(question.find((s) => s.name === step)!.parentSpanId).toBe(attempt.spanId);
    }

    // Attributes.
    expect(query.attributes).toMatchObject({
      user_id: userId,
      tier: 'free',
      query_length: QUESTION.length,
      outcome: 'enqueued',
      query_id: id,
    });
    expect(question.find((s) => s.name === 'assistant.cache_lookup')!.attributes).toMatchObject({
      'cache.tier': 'exact',
      'cache.hit': false,
    });
    expect(question.find((s) => s.name === 'assistant.semantic_cache')!.attributes).toMatchObject({
      'cache.tier': 'semantic',
      'cache.hit': false,
    });
    const generate = question.find((s) => s.name === 'assistant.generate')!;
    expect(generate.attributes).toMatchObject({ model: 'fake-model-2', 'fallback.source': 'secondary' });
    expect(generate.attributes.prompt_tokens).toBeGreaterThan(0);
    expect(generate.attributes.completion_tokens).toBe(12);
    expect(question.find((s) => s.name === 'assistant.record')!.attributes.cost_micros).toBeGreaterThan(0);
    // Each LLM attempt, with its model, breaker state and outcome: the primary failed, the fallback answered.
    const llm = question
      .filter((s) => s.name === 'assistant.llm_attempt')
      .map((s) => ({
        model: s.attributes.model,
        fallback: s.attributes.fallback,
        breaker: s.attributes['breaker.state'],
        outcome: s.attributes.outcome,
        parent: s.parentSpanId,
      }));
    expect(llm).toEqual(
      expect.arrayContaining([
        {
          model: 'fake-model',
          fallback: false,
          breaker: 'closed',
          outcome: 'failed',
          parent: generate.spanId,
        },
        {
          model: 'fake-model-2',
          fallback: true,
          breaker: 'closed',
          outcome: 'succeeded',
          parent: generate.spanId,
        },
      ]),
    );

    // Polls and SSE reads are their own traces, linked to the question's.
    for (const name of ['assistant.poll', 'assistant.events']) {
      const read = spans.find((s) => s.name === name && s.attributes.query_id === id)!;
      expect(read.links.map((l) => l.traceId)).toContain(CALLER_TRACE);
    }

    // Never the question or the answer text.
    const values = spans.flatMap((s) => Object.values(s.attributes).map(String));
    expect(values.filter((v) => v.includes(QUESTION) || v.includes(view.answer.slice(0, 20)))).toEqual([]);

    // Log lines written inside the worker's spans carry the trace id.
    const logs = stack.workers[0]!.output()
      .split('\n')
      .filter((line) => line.includes(`"trace_id":"${CALLER_TRACE}"`));
    expect(logs.length).toBeGreaterThan(0);
  });

  it('puts each fallback past the models in its own span: the cached answer (a miss), then the extractive answer', async () => {
    fake.update({ failNext: 2 });
    const trace = '1234567890abcdef1234567890abcdef';
    const { links } = await ask('Which fallback answers when both models fail?', trace);
    const view = await waitAnswered(links.self);
    expect(view.model).toBe('extractive');
    const spans = await waitUntil(
      () => {
        const mine = receiver.spans().filter((s) => s.traceId === trace);
        return mine.some((s) => s.name === 'assistant.record') ? mine : undefined;
      },
      { what: 'the fallback trace exported', timeoutMs: 20_000 },
    );
    const generate = spans.find((s) => s.name === 'assistant.generate')!;
    const underGenerate = spans
      .filter((s) => s.parentSpanId === generate.spanId)
      .map((s) => [
        s.name,
        s.attributes.model ?? s.attributes['fallback.to'],
        s.attributes.outcome ?? s.attributes['cache.hit'],
      ]);
    expect(underGenerate).toEqual(
      expect.arrayContaining([
        ['assistant.llm_attempt', 'fake-model', 'failed'],
        ['assistant.llm_attempt', 'fake-model-2', 'failed'],
        ['assistant.fallback', 'cache', false],
        ['assistant.fallback', 'extractive', undefined],
      ]),
    );
    expect(underGenerate).toHaveLength(4);
    expect(generate.attributes['fallback.source']).toBe('extractive');
  });

  it('records no span for a user whose tracing flag is off; the process keeps tracing others', async () => {
    const quiet = await stack.createUser();
    const patched = await fetch(`${stack.api.url}/v1/admin/flags/tracing`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${STACK_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deny: [quiet.id], reason: 'tracing e2e' }),
    });
    expect(patched.status).toBe(200);
    // Every process picks the override up within FLAGS_REFRESH_MS.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const quietTrace = 'aaaabbbbccccddddeeeeffff00001111';
    const { links } = await ask('What is on the shopping list?', quietTrace, { key: quiet.api_key });
    expect((await waitAnswered(links.self, { key: quiet.api_key })).status).toBe('succeeded');
    // Give the batch processors time to export anything they had (they export every 100 ms).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const spans = receiver.spans();
    expect(spans.filter((s) => s.traceId === quietTrace)).toEqual([]);
    expect(spans.filter((s) => s.attributes.user_id === quiet.id)).toEqual([]);
  });

  it('flushes the spans not yet exported when a process shuts down gracefully', async () => {
    // A second API process whose batches would wait a minute: only the shutdown flush sends them.
    const api = await startService('api', {
      ...stack.env,
      PORT: '0',
      MIGRATE_ON_START: 'false',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    });
    const missing = 'q_0123456789abcdef0123456789abcdef';
    const res = await fetch(`${api.url}/v1/queries/${missing}`, {
      headers: { authorization: `Bearer ${apiKey}`, traceparent: `00-${'f'.repeat(31)}1-${CALLER_SPAN}-01` },
    });
    expect(res.status).toBe(404);
    const traceId = `${'f'.repeat(31)}1`;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.spans().filter((s) => s.traceId === traceId)).toEqual([]);
    expect(await api.stop('SIGTERM')).toBe(0);
    const poll = receiver.spans().find((s) => s.traceId === traceId)!;
    expect(poll).toMatchObject({ name: 'assistant.poll', parentSpanId: CALLER_SPAN, statusCode: 2 });
    expect(poll.attributes['error.code']).toBe('not_found');
  });

  it('with no OTEL_* set, creates no exporter: nothing reaches the SDK default localhost:4318', async (ctx) => {
    // Listen where the SDK's default OTLP exporter would send; skipped if another process has it.
    const defaultPort = await startOtlpReceiver(4318).catch(() => undefined);
    if (!defaultPort) return ctx.skip();
    try {
      const env = Object.fromEntries(Object.entries(stack.env).filter(([key]) => !key.startsWith('OTEL_')));
      const api = await startService('api', { ...env, PORT: '0', MIGRATE_ON_START: 'false' });
      const { links } = await ask('Is anything traced without a collector?', CALLER_TRACE, { url: api.url });
      await waitAnswered(links.self, { url: api.url });
      // The shutdown flush is where a configured exporter would send at the latest.
      expect(await api.stop('SIGTERM')).toBe(0);
      expect(defaultPort.requests()).toBe(0);
    } finally {
      await defaultPort.close();
    }
  });
});
