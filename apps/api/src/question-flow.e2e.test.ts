import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { readSse, type SseEvent, STACK_ADMIN_TOKEN, type Stack, startStack } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The whole system as deployed: a real API process and a real worker process (with the real ONNX
// model) on real Redis and Postgres, the LLM being the fake OpenAI-compatible server, reached
// through the real @huggingface/inference client.
let stack: Stack;
let fake: RunningFakeLlm;
let apiKey: string;
let api: Stack['api'];
let worker: Stack['api'];

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 40, tokensPerSecond: 80 } });
  stack = await startStack('e2e', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    SSE_HEARTBEAT_MS: '300',
  });
  api = stack.api;
  worker = stack.workers[0]!;
  apiKey = (await stack.createUser()).api_key;
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

async function ask(query: string): Promise<{ id: string; links: { self: string; events: string } }> {
  const res = await fetch(`${api.url}/v1/queries`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { id: string; links: { self: string; events: string } };
}

type Parsed = { id: string; type: string; payload: Record<string, unknown> };

function parse(event: SseEvent): Parsed {
  return {
    id: event.id ?? '',
    type: event.event,
    payload: JSON.parse(event.data) as Record<string, unknown>,
  };
}

describe('a question, end to end', () => {
  it('is answered by polling with ?wait', async () => {
    const { links } = await ask('What should I pack for the trip?');
    const res = await fetch(`${api.url}${links.self}?wait=20`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(res.status).toBe(200);
    const view = (await res.json()) as Record<string, unknown>;
    expect(view).toMatchObject({
      status: 'succeeded',
      model: 'fake-model',
      cached: false,
      error: null,
      sources: [],
    });
    expect(view.answer).toMatch(/^Fake answer to: /);
    // Scored with no sources given to the model: nothing supports it.
    expect(view.quality).toMatchObject({ score: 0, groundedness: 0, no_context: true });
    expect(view.escalation).toBeNull();
    const usage = view.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    expect(usage.completion_tokens).toBe(40);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    // $0.0000002/prompt token + $0.0000006/completion token, rounded up to a micro-dollar
    expect(view.cost_usd).toBe(Math.ceil(usage.prompt_tokens * 0.2 + usage.completion_tokens * 0.6) / 1e6);
  });

  it('streams by SSE, and a client that drops mid-stream resumes with Last-Event-ID without loss or repeat', async () => {
    const { links } = await ask('Summarise my notes on the garden');
    const headers = { authorization: `Bearer ${apiKey}` };

    const first: Parsed[] = [];
    const aborter = new AbortController();
    const res1 = await fetch(`${api.url}${links.events}`, { headers, signal: aborter.signal });
    expect(res1.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res1.headers.get('x-accel-buffering')).toBe('no');
    await readSse(res1.body!, (event) => {
      first.push(parse(event));
      return first.filter((e) => e.type === 'token').length >= 5 ? 'stop' : undefined;
    });
    aborter.abort();
    const lastId = first.at(-1)!.id;

    const second: Parsed[] = [];
    const res2 = await fetch(`${api.url}${links.events}`, {
      headers: { ...headers, 'last-event-id': lastId },
    });
    await readSse(res2.body!, (event) => {
      second.push(parse(event));
    });

    const all = [...first, ...second];
    const ids = all.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // no repeats
    expect([...ids].sort(compareStreamIds)).toEqual(ids); // in order
    expect(all.map((e) => e.type).slice(0, 3)).toEqual(['queued', 'started', 'sources']);
    expect(all.at(-1)!.type).toBe('done');
    const tokens = all.filter((e) => e.type === 'token').map((e) => e.payload.text as string);
    const result = all.at(-1)!.payload.result as { answer: string };
    expect(tokens.join('')).toBe(result.answer); // no token lost
    // 40 model tokens at 80/s travel in batches of up to 25 ms: fewer events than tokens.
    expect(tokens.length).toBeGreaterThan(5);
    expect(tokens.length).toBeLessThan(40);
    expect(second.length).toBeGreaterThan(1);

    // A finished stream replays whole, then ends by itself.
    const replay: Parsed[] = [];
    await readSse((await fetch(`${api.url}${links.events}`, { headers })).body!, (event) => {
      replay.push(parse(event));
    });
    expect(replay.map((e) => e.id)).toEqual(ids);
  });

  it('sends heartbeat comments while the answer is slow', async () => {
    fake.update({ ttftMs: 1200 });
    try {
      const { links } = await ask('A slow one, please');
      let heartbeats = 0;
      const types: string[] = [];
      await readSse(
        (await fetch(`${api.url}${links.events}`, { headers: { authorization: `Bearer ${apiKey}` } })).body!,
        (event) => {
          types.push(event.event);
        },
        (comment) => {
          if (comment === 'heartbeat') heartbeats += 1;
        },
      );
      expect(heartbeats).toBeGreaterThanOrEqual(2);
      expect(types.at(-1)).toBe('done');
    } finally {
      fake.update({ ttftMs: 0 });
    }
  });

  it('falls back to the offline extractive answer, labelled, when the LLM keeps failing', async () => {
    fake.update({ failNext: 3, errorKinds: ['server_error'] });
    const { links } = await ask('This one will fail upstream');
    const res = await fetch(`${api.url}${links.self}?wait=20`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const view = (await res.json()) as { status: string; model: string; cost_usd: number; fallback: unknown };
    expect(view).toMatchObject({ status: 'succeeded', model: 'extractive', cost_usd: 0 });
    // The answer records which source answered and why the model before it did not.
    expect(view.fallback).toEqual({
      source: 'extractive',
      attempts: [{ provider: 'endpoint', model: 'fake-model', outcome: 'failed', reason: 'upstream_error' }],
    });
  });

  it('ends with exactly one terminal error when the budget cannot cover the question', async () => {
    const poor = await stack.createUser();
    const patched = await fetch(`${api.url}/v1/admin/users/${poor.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${STACK_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limits: { dailyBudgetMicros: 50 } }),
    });
    expect(patched.status).toBe(200);
    const submitted = await fetch(`${api.url}/v1/queries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${poor.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'An expensive question' }),
    });
    expect(submitted.status).toBe(202);
    const { links } = (await submitted.json()) as { links: { self: string; events: string } };
    const headers = { authorization: `Bearer ${poor.api_key}` };
    const view = (await (await fetch(`${api.url}${links.self}?wait=20`, { headers })).json()) as {
      status: string;
      error: { code: string };
    };
    expect(view.status).toBe('failed');
    expect(view.error.code).toBe('budget_exceeded');
    const types: string[] = [];
    await readSse((await fetch(`${api.url}${links.events}`, { headers })).body!, (event) => {
      types.push(event.event);
    });
    expect(types.filter((t) => t === 'started')).toHaveLength(1); // terminal: no retry
    expect(types.filter((t) => t === 'error')).toHaveLength(1);
    expect(types.at(-1)).toBe('error');
  });

  it('reports the warm model in the worker readiness', async () => {
    const res = await fetch(`${worker.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checks: { model: { dimension: number; warmup_ms: number } } };
    expect(body.checks.model.dimension).toBe(384);
    expect(body.checks.model.warmup_ms).toBeGreaterThanOrEqual(0);
  });
});

function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
