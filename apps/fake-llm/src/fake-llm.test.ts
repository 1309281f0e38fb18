import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFakeLlm, startFakeLlm } from './start-fake-llm.ts';

let fake: RunningFakeLlm;

beforeAll(async () => {
  fake = await startFakeLlm({ now: () => 1_700_000_000_000 });
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const question = [{ role: 'user', content: 'What did I write about tomatoes?' }];

function chat(body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${fake.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}

/** Splits a raw SSE body into its blocks, each `data: …` or `: comment` text. */
function sseBlocks(raw: string): string[] {
  expect(raw.endsWith('\n\n')).toBe(true);
  return raw.slice(0, -2).split('\n\n');
}

function dataOf(block: string): Record<string, unknown> {
  expect(block.startsWith('data: ')).toBe(true);
  return JSON.parse(block.slice('data: '.length)) as Record<string, unknown>;
}

function controlPut(body: unknown): Promise<Response> {
  return fetch(`${fake.url}/control`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('answers by model', () => {
  it('answers a model named in answersByModel with its text, and any other model with the echo', async () => {
    fake.update({ answersByModel: { cheap: 'Paris is the capital of France.' } });
    const cheap = (await (await chat({ model: 'cheap', messages: question })).json()) as {
      choices: { message: { content: string } }[];
    };
    expect(cheap.choices[0]!.message.content).toBe('Paris is the capital of France.');
    const other = (await (await chat({ model: 'strong', messages: question })).json()) as typeof cheap;
    expect(other.choices[0]!.message.content).toMatch(/^Fake answer to: What did I write about tomatoes\?/);
  });
});

describe('streaming', () => {
  it('streams a role delta, one delta per token, a finish chunk and [DONE] with one id', async () => {
    fake.update({ answerTokens: 8 });
    const res = await chat({ model: 'tiny', stream: true, messages: question });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const blocks = sseBlocks(await res.text());
    expect(blocks.at(-1)).toBe('data: [DONE]');
    const chunks = blocks.slice(0, -1).map(dataOf);
    const envelope = {
      id: 'chatcmpl-fake-1',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'tiny',
      system_fingerprint: null,
    };
    const tokens = ['Fake', ' answer', ' to:', ' What', ' did', ' I', ' write', ' about'];
    expect(chunks).toEqual([
      {
        ...envelope,
        choices: [
          { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
        ],
      },
      ...tokens.map((content) => ({
        ...envelope,
        choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
      })),
      { ...envelope, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
    ]);
  });

  it('appends a usage chunk with empty choices when include_usage is set', async () => {
    fake.update({ answerTokens: 4 });
    const res = await chat({ stream: true, stream_options: { include_usage: true }, messages: question });
    const blocks = sseBlocks(await res.text());
    const chunks = blocks.slice(0, -1).map(dataOf);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect(chunks.at(-1)).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'fake-llm',
      choices: [],
      usage: { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 },
    });
    expect(blocks.at(-1)).toBe('data: [DONE]');
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const res = await chat({
      stream: true,
      max_tokens: 3,
      stream_options: { include_usage: true },
      messages: question,
    });
    const chunks = sseBlocks(await res.text())
      .slice(0, -1)
      .map(dataOf);
    const contents = chunks
      .slice(1, 4)
      .map((chunk) => (chunk.choices as { delta: { content: string } }[])[0]!.delta);
    expect(contents).toEqual([{ content: 'Fake' }, { content: ' answer' }, { content: ' to:' }]);
    expect(chunks[4]!.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'length' }]);
    expect(chunks[5]!.usage).toEqual({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
  });

  it('sends keep-alive comments while waiting for the first token', async () => {
    fake.update({ ttftMs: 350, keepAliveMs: 100, answerTokens: 2 });
    const res = await chat({ stream: true, messages: question });
    const blocks = sseBlocks(await res.text());
    expect(blocks.slice(0, 3)).toEqual([': keep-alive', ': keep-alive', ': keep-alive']);
    expect(dataOf(blocks[3]!).choices).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ]);
  });

  it('paces tokens at tokensPerSecond', async () => {
    fake.update({ tokensPerSecond: 50, answerTokens: 6 });
    const started = performance.now();
    await (await chat({ stream: true, messages: question })).text();
    expect(performance.now() - started).toBeGreaterThanOrEqual(90); // 5 gaps of 20 ms
  });
});

describe('non-streaming', () => {
  it('answers a chat.completion with message, finish_reason and usage', async () => {
    fake.update({ answerTokens: 6 });
    const res = await chat({
      model: 'tiny',
      messages: [{ role: 'system', content: 'Be brief.' }, ...question],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: 'chatcmpl-fake-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'tiny',
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Fake answer to: What did I' },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 8, completion_tokens: 6, total_tokens: 14 },
    });
  });

  it('reports finish_reason length when max_tokens cuts the answer', async () => {
    const body = (await (await chat({ max_tokens: 2, messages: question })).json()) as {
      choices: { message: { content: string }; finish_reason: string }[];
    };
    expect(body.choices[0]).toMatchObject({ message: { content: 'Fake answer' }, finish_reason: 'length' });
  });

  it('lists the model', async () => {
    const res = await fetch(`${fake.url}/v1/models`);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [{ id: 'fake-llm', object: 'model', created: 0, owned_by: 'fake-llm' }],
    });
  });
});

describe('request validation', () => {
  it('rejects a body without messages with an OpenAI-style 400', async () => {
    const res = await chat({ model: 'tiny' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "Missing required parameter: 'messages'.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'missing_required_parameter',
      },
    });
  });

  it('rejects malformed messages and invalid JSON', async () => {
    const bad = await chat({ messages: [{ role: 'robot', content: 'hi' }] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: 'messages.0.role', code: 'invalid_value' },
    });
    const empty = await chat({ messages: [] });
    expect(empty.status).toBe(400);
    const notJson = await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: 'invalid_json' } });
    expect(fake.counters()).toMatchObject({ requests: 3, outcomes: { bad_request: 3 } });
  });
});

describe('faults', () => {
  it('answers rate_limit with 429 and Retry-After', async () => {
    fake.update({ failNext: 1, errorKinds: ['rate_limit'], retryAfterSeconds: 7 });
    const res = await chat({ stream: true, messages: question });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
  });

  it('answers unavailable with 503 and server_error with 500', async () => {
    fake.update({ failNext: 2, errorKinds: ['unavailable', 'server_error'] });
    expect((await chat({ messages: question })).status).toBe(503);
    expect((await chat({ messages: question })).status).toBe(500);
    expect((await chat({ messages: question })).status).toBe(200);
    expect(fake.counters().outcomes).toMatchObject({ unavailable: 1, server_error: 1, ok: 1 });
    expect(fake.settings().failNext).toBe(0);
  });

  it('sends an error event mid-stream and no [DONE] on mid_stream_error', async () => {
    fake.update({ failNext: 1, errorKinds: ['mid_stream_error'], faultAfterTokens: 2 });
    const blocks = sseBlocks(await (await chat({ stream: true, messages: question })).text());
    expect(blocks).toHaveLength(4);
    expect(dataOf(blocks[2]!).choices).toMatchObject([{ delta: { content: ' answer' } }]);
    expect(dataOf(blocks[3]!)).toEqual({
      error: {
        message: 'The fake LLM failed while streaming.',
        type: 'server_error',
        param: null,
        code: 'mid_stream_error',
      },
    });
  });

  it('closes cleanly without finish_reason or [DONE] on truncate', async () => {
    fake.update({ failNext: 1, errorKinds: ['truncate'], faultAfterTokens: 3 });
    const res = await chat({ stream: true, stream_options: { include_usage: true }, messages: question });
    const blocks = sseBlocks(await res.text());
    expect(blocks).toHaveLength(4); // role + 3 tokens
    expect(blocks.some((block) => block.includes('[DONE]') || block.includes('"finish_reason":"'))).toBe(
      false,
    );
  });

  it('resets the connection mid-stream on reset', async () => {
    fake.update({ failNext: 1, errorKinds: ['reset'] });
    const res = await chat({ stream: true, messages: question });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(fake.counters().outcomes.reset).toBe(1);
  });

  it('hangs until the client aborts on hang', async () => {
    fake.update({ failNext: 1, errorKinds: ['hang'] });
    await expect(chat({ messages: question }, AbortSignal.timeout(150))).rejects.toThrow();
    await expect
      .poll(() => fake.counters())
      .toMatchObject({ aborted: 1, inFlight: 0, outcomes: { hang: 1 } });
  });

  it('counts a stream the client abandons during time-to-first-token as aborted', async () => {
    fake.update({ ttftMs: 5_000, keepAliveMs: 50 });
    const controller = new AbortController();
    const res = await chat({ stream: true, messages: question }, controller.signal);
    expect(res.status).toBe(200);
    controller.abort();
    await expect.poll(() => fake.counters()).toMatchObject({ aborted: 1, inFlight: 0 });
  });

  it('takes failNext kinds in turn, then answers normally', async () => {
    fake.update({ failNext: 3, errorKinds: ['rate_limit', 'unavailable'] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat({ messages: question })).status);
    expect(statuses).toEqual([429, 503, 429, 200]);
  });

  it('draws failures from the seeded random at errorRate', async () => {
    fake.update({ errorRate: 0.5, errorKinds: ['server_error'], seed: 7 });
    const first: number[] = [];
    for (let i = 0; i < 20; i++) first.push((await chat({ messages: question })).status);
    fake.update({ seed: 8 });
    fake.update({ seed: 7 });
    const again: number[] = [];
    for (let i = 0; i < 20; i++) again.push((await chat({ messages: question })).status);
    expect(again).toEqual(first);
    expect(first).toContain(500);
    expect(first).toContain(200);
  });
});

describe('control', () => {
  it('returns settings and counters, merges partial updates and resets', async () => {
    await chat({ messages: question });
    const put = await controlPut({ ttftMs: 10, errorKinds: ['hang'] });
    expect(put.status).toBe(200);
    const state = (await (await fetch(`${fake.url}/control`)).json()) as Record<
      string,
      Record<string, unknown>
    >;
    expect(state.settings).toMatchObject({ ttftMs: 10, errorKinds: ['hang'], answerTokens: 20 });
    expect(state.counters).toMatchObject({ requests: 1, outcomes: { ok: 1 } });
    const reset = await fetch(`${fake.url}/control/reset`, { method: 'POST' });
    expect(await reset.json()).toMatchObject({ settings: { ttftMs: 0 }, counters: { requests: 0 } });
  });

  it('rejects invalid settings with 400 and leaves the settings alone', async () => {
    for (const body of [{ errorRate: 2 }, { errorKinds: ['nope'] }, { errorKinds: [] }, { bogus: 1 }, 'x']) {
      const res = await controlPut(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: { type: 'invalid_request_error', code: 'invalid_settings' },
      });
    }
    expect(fake.settings().errorRate).toBe(0);
  });
});
