import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LlmError } from './llm-error.ts';
import type { GenerateRequest, LlmConfig, LlmProvider } from './llm-provider.ts';
import { createLlmProvider } from './provider-table.ts';
import { estimatePromptTokens } from './usage-estimate.ts';

// Real HTTP, real @huggingface/inference client, fake server.
let fake: RunningFakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 8 } });
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [
    { role: 'system', content: 'Answer from the notes.' },
    { role: 'user', content: 'What did I write about tomatoes?' },
  ],
  query: 'What did I write about tomatoes?',
  sources: [],
  maxTokens: 100,
  ...over,
});

function endpoint(over: Partial<LlmConfig> = {}, fetchImpl?: typeof fetch): LlmProvider {
  const config: LlmConfig = {
    provider: 'endpoint',
    model: 'fake-model',
    endpointUrl: `${fake.url}/v1`,
    timeoutMs: 5_000,
    ...over,
  };
  return createLlmProvider(config, fetchImpl ? { fetch: fetchImpl } : {});
}

async function failure(run: Promise<unknown>): Promise<LlmError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LlmError);
  return error as LlmError;
}

const expectedText = 'Fake answer to: What did I write about';

describe('endpoint provider over the fake LLM', () => {
  it('streams tokens in order and returns them joined with usage from the usage chunk', async () => {
    const tokens: string[] = [];
    const result = await endpoint().generate(request(), async (token) => {
      tokens.push(token);
    });
    expect(tokens).toEqual(['Fake', ' answer', ' to:', ' What', ' did', ' I', ' write', ' about']);
    expect(result).toEqual({
      text: expectedText,
      provider: 'endpoint',
      model: 'fake-model',
      usage: { promptTokens: 10, completionTokens: 8 },
      finishReason: 'stop',
      truncated: false,
    });
    expect(fake.counters()).toMatchObject({ requests: 1, outcomes: { ok: 1 } });
  });

  it('accepts an endpoint URL without /v1', async () => {
    const result = await endpoint({ endpointUrl: fake.url }).generate(request(), () => {});
    expect(result.text).toBe(expectedText);
  });

  it('estimates usage when the server sends no usage chunk', async () => {
    const withoutUsage: typeof fetch = (input, init) => {
      const body = JSON.parse(String(init?.body)) as Record<string, unknown>;
      delete body.stream_options;
      return fetch(input, { ...init, body: JSON.stringify(body) });
    };
    const result = await endpoint({}, withoutUsage).generate(request(), () => {});
    expect(result.usage).toEqual({
      promptTokens: estimatePromptTokens(request().messages),
      completionTokens: 8,
    });
  });

  it('marks an answer cut by maxTokens as truncated with finish reason length', async () => {
    const result = await endpoint().generate(request({ maxTokens: 3 }), () => {});
    expect(result).toMatchObject({
      text: 'Fake answer to:',
      finishReason: 'length',
      truncated: true,
      usage: { completionTokens: 3 },
    });
  });

  it('maps 429 to rate_limited with retryAfterMs from Retry-After', async () => {
    fake.update({ failNext: 1, errorKinds: ['rate_limit'], retryAfterSeconds: 7 });
    const error = await failure(endpoint().generate(request(), () => {}));
    expect(error).toMatchObject({
      kind: 'rate_limited',
      status: 429,
      retryAfterMs: 7000,
      retryable: true,
      provider: 'endpoint',
      model: 'fake-model',
    });
  });

  it('maps 503 to unavailable after exactly one HTTP request (no client retry)', async () => {
    fake.update({ failNext: 5, errorKinds: ['unavailable'] });
    const error = await failure(endpoint().generate(request(), () => {}));
    expect(error).toMatchObject({ kind: 'unavailable', status: 503, retryable: true });
    expect(fake.counters().requests).toBe(1);
  });

  it('maps 500 to a retryable upstream_error', async () => {
    fake.update({ failNext: 1, errorKinds: ['server_error'] });
    const error = await failure(endpoint().generate(request(), () => {}));
    expect(error).toMatchObject({ kind: 'upstream_error', status: 500, retryable: true });
  });

  it('maps 400 to bad_request, not retryable', async () => {
    const error = await failure(endpoint().generate(request({ messages: [] }), () => {}));
    expect(error).toMatchObject({ kind: 'bad_request', status: 400, retryable: false });
    expect(fake.counters().outcomes.bad_request).toBe(1);
  });

  it('raises truncated when the stream closes without [DONE]', async () => {
    fake.update({ failNext: 1, errorKinds: ['truncate'], faultAfterTokens: 3 });
    const tokens: string[] = [];
    const error = await failure(endpoint().generate(request(), (token) => void tokens.push(token)));
    expect(error).toMatchObject({ kind: 'truncated', retryable: true });
    expect(tokens).toEqual(['Fake', ' answer', ' to:']);
  });

  it('raises on an error event mid-stream', async () => {
    fake.update({ failNext: 1, errorKinds: ['mid_stream_error'], faultAfterTokens: 2 });
    const error = await failure(endpoint().generate(request(), () => {}));
    expect(error).toMatchObject({ kind: 'upstream_error', retryable: true });
    expect(error.message).toContain('The fake LLM failed while streaming.');
  });

  it('raises unavailable when the connection is reset mid-stream', async () => {
    fake.update({ failNext: 1, errorKinds: ['reset'] });
    const error = await failure(endpoint().generate(request(), () => {}));
    expect(error).toMatchObject({ kind: 'unavailable', retryable: true });
  });

  it('raises unavailable when nothing listens', async () => {
    const gone = await startFakeLlm();
    await gone.close();
    const error = await failure(endpoint({ endpointUrl: `${gone.url}/v1` }).generate(request(), () => {}));
    expect(error).toMatchObject({ kind: 'unavailable', retryable: true });
  });

  it('times out mid-stream, and the fake sees the request aborted', async () => {
    fake.update({ ttftMs: 10_000, keepAliveMs: 50 });
    const started = performance.now();
    const error = await failure(endpoint({ timeoutMs: 300 }).generate(request(), () => {}));
    expect(error).toMatchObject({ kind: 'timeout', retryable: true });
    expect(performance.now() - started).toBeLessThan(2_000);
    await expect.poll(() => fake.counters()).toMatchObject({ aborted: 1, inFlight: 0 });
  });

  it('times out a request that never gets headers', async () => {
    fake.update({ failNext: 1, errorKinds: ['hang'] });
    const error = await failure(endpoint({ timeoutMs: 200 }).generate(request(), () => {}));
    expect(error.kind).toBe('timeout');
    await expect.poll(() => fake.counters()).toMatchObject({ aborted: 1, outcomes: { hang: 1 } });
  });

  it('cancels the HTTP call when the caller aborts', async () => {
    fake.update({ tokensPerSecond: 20 });
    const controller = new AbortController();
    const error = await failure(
      endpoint().generate(request({ signal: controller.signal }), (token) => {
        if (token === ' answer') controller.abort();
      }),
    );
    expect(error).toMatchObject({ kind: 'aborted', retryable: false });
    await expect.poll(() => fake.counters()).toMatchObject({ aborted: 1, inFlight: 0 });
  });

  it('rethrows an onToken error as is and releases the connection', async () => {
    fake.update({ tokensPerSecond: 20 });
    const boom = new Error('consumer failed');
    const run = endpoint().generate(request(), () => {
      throw boom;
    });
    await expect(run).rejects.toBe(boom);
    await expect.poll(() => fake.counters()).toMatchObject({ aborted: 1, inFlight: 0 });
  });
});

describe('hf provider', () => {
  it('posts to the HF router with the token and streams like the endpoint provider', async () => {
    const seen: { url: string; auth: string | null; model: unknown }[] = [];
    const toFake: typeof fetch = (input, init) => {
      const url = String(input);
      seen.push({
        url,
        auth: new Headers(init?.headers).get('authorization'),
        model: (JSON.parse(String(init?.body)) as { model?: unknown }).model,
      });
      return fetch(url.replace('https://router.huggingface.co', fake.url), init);
    };
    const hf = createLlmProvider(
      { provider: 'hf', model: 'meta-llama/Llama-3.1-8B-Instruct', hfToken: 'hf_test', timeoutMs: 5_000 },
      { fetch: toFake },
    );
    const result = await hf.generate(request(), () => {});
    expect(seen).toEqual([
      {
        url: 'https://router.huggingface.co/v1/chat/completions',
        auth: 'Bearer hf_test',
        model: 'meta-llama/Llama-3.1-8B-Instruct',
      },
    ]);
    expect(result).toMatchObject({
      text: expectedText,
      provider: 'hf',
      model: 'meta-llama/Llama-3.1-8B-Instruct',
    });
  });
});

describe('createLlmProvider', () => {
  it('refuses configs that lack what the provider needs', () => {
    expect(() => createLlmProvider({ provider: 'endpoint', model: 'm', timeoutMs: 1000 })).toThrow(
      /endpointUrl/,
    );
    expect(() => createLlmProvider({ provider: 'hf', model: 'm', timeoutMs: 1000 })).toThrow(/hfToken/);
    expect(() =>
      createLlmProvider({ provider: 'endpoint', model: 'm', endpointUrl: 'http://x', timeoutMs: 0 }),
    ).toThrow(/timeoutMs/);
  });

  it('builds the extractive provider without any network config', () => {
    const llm = createLlmProvider({ provider: 'extractive', model: 'ignored', timeoutMs: 1000 });
    expect({ name: llm.name, model: llm.model }).toEqual({ name: 'extractive', model: 'extractive' });
  });
});
