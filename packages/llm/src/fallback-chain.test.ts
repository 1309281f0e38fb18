import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Breaker, type BreakerOptions, createBreaker } from './circuit-breaker.ts';
import { createExtractiveProvider } from './extractive-provider.ts';
import { createFallbackChain, type FallbackChainOptions, type FallbackLink } from './fallback-chain.ts';
import { LlmError } from './llm-error.ts';
import type { GenerateRequest, GenerateResult, LlmDeps } from './llm-provider.ts';
import { createLlmProvider } from './provider-table.ts';

// Real HTTP: two fake LLM servers, one per model, behind real breakers.
let primaryFake: RunningFakeLlm;
let secondaryFake: RunningFakeLlm;
const breakers: Breaker[] = [];

beforeAll(async () => {
  [primaryFake, secondaryFake] = await Promise.all([
    startFakeLlm({ settings: { answerTokens: 6 } }),
    startFakeLlm({ settings: { answerTokens: 6 } }),
  ]);
});
afterEach(() => {
  primaryFake.reset();
  secondaryFake.reset();
  for (const breaker of breakers.splice(0)) breaker.close();
});
afterAll(async () => {
  await Promise.all([primaryFake.close(), secondaryFake.close()]);
});

const request = (over: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: 'user', content: 'How often do I water tomatoes?' }],
  query: 'How often do I water tomatoes?',
  sources: [
    {
      noteId: 'n1',
      title: 'Garden',
      text: 'Water the tomatoes twice a week. Basil likes shade.',
      score: 0.9,
    },
  ],
  maxTokens: 50,
  ...over,
});

function link(
  fake: RunningFakeLlm,
  model: string,
  options: Partial<BreakerOptions> = {},
  deps: { now?: () => number; fetch?: LlmDeps['fetch'] } = {},
): FallbackLink {
  const provider = createLlmProvider(
    { provider: 'endpoint', model, endpointUrl: `${fake.url}/v1`, timeoutMs: 5_000 },
    deps.fetch ? { fetch: deps.fetch } : {},
  );
  const breaker = createBreaker(
    { provider: 'endpoint', model, timeoutMs: 2_000, ...options },
    deps.now ? { now: deps.now } : {},
  );
  breakers.push(breaker);
  return { provider, breaker };
}

function chainOf(links: FallbackLink[], over: Partial<FallbackChainOptions> = {}) {
  return createFallbackChain({ links, extractive: createExtractiveProvider(), ...over });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const primaryText = 'Fake answer to: How often do';

describe('createFallbackChain over the fake LLM', () => {
  it('answers from the secondary while the primary fails every request, and opens its breaker', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['unavailable'] });
    const primary = link(primaryFake, 'primary-model');
    const chain = chainOf([primary, link(secondaryFake, 'secondary-model')]);

    const started = performance.now();
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await chain.generate(request(), () => {}));
    expect(performance.now() - started).toBeLessThan(8_000);

    for (const result of results) {
      expect(result).toMatchObject({
        text: primaryText,
        model: 'secondary-model',
        fallback: { source: 'secondary', usedFallback: true, restarts: 0 },
      });
    }
    expect(results.map((r) => r.fallback.attempts[0]?.reason)).toEqual([
      ...Array(5).fill('unavailable'),
      ...Array(3).fill('breaker_open'),
    ]);
    expect(results[7]?.fallback.attempts).toEqual([
      {
        provider: 'endpoint',
        model: 'primary-model',
        outcome: 'skipped',
        reason: 'breaker_open',
        message: expect.stringContaining('open'),
        tokensSent: 0,
        retryAfterMs: expect.any(Number),
      },
    ]);
    expect(primary.breaker.state()).toBe('open');
    expect(primaryFake.counters().requests).toBe(5);
    expect(secondaryFake.counters().requests).toBe(8);
  });

  it('with breakers off (the `breakers` flag), calls a model whose breaker is open and counts nothing', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['unavailable'] });
    const primary = link(primaryFake, 'primary-model');
    const chain = chainOf([primary, link(secondaryFake, 'secondary-model')]);
    for (let i = 0; i < 5; i++) await chain.generate(request(), () => {});
    expect(primary.breaker.state()).toBe('open');
    primaryFake.update({ errorRate: 0 });
    const guarded = await chain.generate(request(), () => {});
    expect(guarded.model).toBe('secondary-model'); // the open breaker skips the primary
    const unguarded = await chain.generate(request(), () => {}, { breakers: false });
    expect(unguarded).toMatchObject({ model: 'primary-model', fallback: { source: 'primary' } });
    expect(primaryFake.counters().requests).toBe(6);
    expect(primary.breaker.state()).toBe('open'); // its state is untouched
  });

  it('uses the primary again once the fake recovers and the open period has passed', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['server_error'] });
    // A short open period instead of 30 s; long enough that the check right after opening is not racy.
    const primary = link(primaryFake, 'primary-model', { resetTimeoutMs: 1_000 });
    const chain = chainOf([primary, link(secondaryFake, 'secondary-model')]);
    for (let i = 0; i < 5; i++) await chain.generate(request(), () => {});
    expect(primary.breaker.state()).toBe('open');

    primaryFake.update({ errorRate: 0 });
    const stillOpen = await chain.generate(request(), () => {});
    expect(stillOpen.fallback.source).toBe('secondary');
    expect(primaryFake.counters().requests).toBe(5);

    await sleep(1_100);
    expect(primary.breaker.state()).toBe('half_open');
    const recovered = await chain.generate(request(), () => {});
    expect(recovered).toMatchObject({
      model: 'primary-model',
      fallback: { source: 'primary', usedFallback: false, attempts: [] },
    });
    expect(primary.breaker.state()).toBe('closed');
  });

  it('gives a hanging primary at most its deadline per question, cancels the HTTP call, then skips it', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['hang'] });
    const primary = link(primaryFake, 'primary-model', { timeoutMs: 150 });
    const chain = chainOf([primary, link(secondaryFake, 'secondary-model')]);

    const started = performance.now();
    for (let i = 0; i < 5; i++) {
      const result = await chain.generate(request(), () => {});
      expect(result.fallback.attempts[0]).toMatchObject({ outcome: 'failed', reason: 'timeout' });
    }
    expect(primary.breaker.state()).toBe('open');
    const skipped = await chain.generate(request(), () => {});
    expect(skipped.fallback.attempts[0]?.reason).toBe('breaker_open');
    expect(performance.now() - started).toBeLessThan(5 * 150 + 3_000);
    await expect.poll(() => primaryFake.counters()).toMatchObject({ requests: 5, aborted: 5, inFlight: 0 });
  });

  it('falls back to the labelled extractive answer when every model fails, saying why', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['unavailable'] });
    secondaryFake.update({ errorRate: 1, errorKinds: ['server_error'] });
    const tokens: string[] = [];
    const result = await chainOf([
      link(primaryFake, 'primary-model'),
      link(secondaryFake, 'secondary-model'),
    ]).generate(request(), (token) => void tokens.push(token));

    expect(result).toMatchObject({
      provider: 'extractive',
      model: 'extractive',
      fallback: {
        source: 'extractive',
        usedFallback: true,
        attempts: [
          { model: 'primary-model', outcome: 'failed', reason: 'unavailable' },
          { model: 'secondary-model', outcome: 'failed', reason: 'upstream_error' },
        ],
      },
    });
    expect(result.text).toContain('twice a week');
    expect(tokens.join('')).toBe(result.text);
  });

  it('prefers a cached answer to the same question over the extractive one', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['unavailable'] });
    const cached: GenerateResult = {
      text: 'Twice a week (from an earlier answer).',
      provider: 'endpoint',
      model: 'primary-model',
      usage: { promptTokens: 40, completionTokens: 9 },
      finishReason: 'stop',
      truncated: false,
    };
    const asked: string[] = [];
    const tokens: string[] = [];
    const result = await chainOf([link(primaryFake, 'primary-model')]).generate(
      request(),
      (token) => void tokens.push(token),
      {
        cachedAnswer: async (req) => {
          asked.push(req.query);
          return cached;
        },
      },
    );

    expect(asked).toEqual(['How often do I water tomatoes?']);
    expect(tokens).toEqual([cached.text]);
    expect(result).toMatchObject({
      text: cached.text,
      model: 'primary-model',
      usage: { promptTokens: 0, completionTokens: 0 },
      fallback: { source: 'cache', usedFallback: true, attempts: [{ reason: 'unavailable' }] },
    });
  });

  it('treats a failing cache lookup as a miss', async () => {
    primaryFake.update({ errorRate: 1, errorKinds: ['unavailable'] });
    const result = await chainOf([link(primaryFake, 'primary-model')]).generate(request(), () => {}, {
      cachedAnswer: async () => {
        throw new Error('Redis is down');
      },
    });
    expect(result.fallback.source).toBe('extractive');
  });

  it('calls onRestart exactly once, after the failed tokens and before the fallback tokens', async () => {
    primaryFake.update({ failNext: 1, errorKinds: ['mid_stream_error'], faultAfterTokens: 3 });
    const log: string[] = [];
    const result = await chainOf([
      link(primaryFake, 'primary-model'),
      link(secondaryFake, 'secondary-model'),
    ]).generate(request(), (token) => void log.push(token), {
      onRestart: (notice) => {
        log.push(`restart:${notice.model}:${notice.reason}:${notice.discardedTokens}`);
      },
    });

    expect(log).toEqual([
      'Fake',
      ' answer',
      ' to:',
      'restart:primary-model:upstream_error:3',
      'Fake',
      ' answer',
      ' to:',
      ' How',
      ' often',
      ' do',
    ]);
    expect(result).toMatchObject({
      text: primaryText,
      model: 'secondary-model',
      fallback: {
        source: 'secondary',
        restarts: 1,
        attempts: [{ model: 'primary-model', outcome: 'failed', reason: 'upstream_error', tokensSent: 3 }],
      },
    });
  });

  it('rethrows a failure after tokens when the caller cannot be told of a restart', async () => {
    primaryFake.update({ failNext: 1, errorKinds: ['truncate'], faultAfterTokens: 2 });
    const run = chainOf([
      link(primaryFake, 'primary-model'),
      link(secondaryFake, 'secondary-model'),
    ]).generate(request(), () => {});
    await expect(run).rejects.toMatchObject({ kind: 'truncated', model: 'primary-model' });
    expect(secondaryFake.counters().requests).toBe(0);
  });

  it('skips a model that answered 429 until its Retry-After passes, without opening its breaker', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    primaryFake.update({ failNext: 1, errorKinds: ['rate_limit'], retryAfterSeconds: 2 });
    const primary = link(primaryFake, 'primary-model', {}, { now });
    const chain = chainOf([primary, link(secondaryFake, 'secondary-model')]);

    const limited = await chain.generate(request(), () => {});
    expect(limited.fallback).toMatchObject({
      source: 'secondary',
      attempts: [{ outcome: 'failed', reason: 'rate_limited', retryAfterMs: 2_000 }],
    });
    clock += 1_500;
    const waiting = await chain.generate(request(), () => {});
    expect(waiting.fallback.attempts).toMatchObject([
      { outcome: 'skipped', reason: 'retry_after', retryAfterMs: 500 },
    ]);
    expect(primaryFake.counters().requests).toBe(1);

    clock += 500;
    const back = await chain.generate(request(), () => {});
    expect(back.fallback.source).toBe('primary');
    expect(primary.breaker.state()).toBe('closed');
    expect(primary.breaker.recentFailures()).toBe(0);
  });

  it('falls through on bad_request without counting it against the primary', async () => {
    // The primary's client sends a body the server refuses (max_tokens 0): a 400 of our making.
    const badBody: typeof fetch = (input, init) =>
      fetch(input, { ...init, body: JSON.stringify({ ...JSON.parse(String(init?.body)), max_tokens: 0 }) });
    const primary = link(primaryFake, 'primary-model', {}, { fetch: badBody });
    const chain = chainOf([primary, link(secondaryFake, 'secondary-model')]);
    for (let i = 0; i < 6; i++) {
      const result = await chain.generate(request(), () => {});
      expect(result.fallback).toMatchObject({
        source: 'secondary',
        attempts: [{ outcome: 'failed', reason: 'bad_request' }],
      });
    }
    expect(primary.breaker.state()).toBe('closed');
    expect(primary.breaker.recentFailures()).toBe(0);
    expect(primaryFake.counters().outcomes.bad_request).toBe(6);
  });

  it('stops at a caller abort instead of falling back', async () => {
    primaryFake.update({ tokensPerSecond: 20 });
    const controller = new AbortController();
    const run = chainOf([
      link(primaryFake, 'primary-model'),
      link(secondaryFake, 'secondary-model'),
    ]).generate(
      request({ signal: controller.signal }),
      (token) => {
        if (token === ' answer') controller.abort();
      },
      { onRestart: () => {} },
    );
    await expect(run).rejects.toBeInstanceOf(LlmError);
    await expect(run).rejects.toMatchObject({ kind: 'aborted' });
    expect(secondaryFake.counters().requests).toBe(0);
  });

  it('rethrows an onToken error as is, without trying another model', async () => {
    const boom = new Error('event stream unavailable');
    const primary = link(primaryFake, 'primary-model');
    const run = chainOf([primary, link(secondaryFake, 'secondary-model')]).generate(
      request(),
      () => {
        throw boom;
      },
      { onRestart: () => {} },
    );
    await expect(run).rejects.toBe(boom);
    expect(secondaryFake.counters().requests).toBe(0);
    expect(primary.breaker.recentFailures()).toBe(0);
  });

  it('answers extractively, not as a fallback, when no model is configured', async () => {
    const result = await chainOf([]).generate(request(), () => {});
    expect(result).toMatchObject({
      provider: 'extractive',
      fallback: { source: 'extractive', usedFallback: false, attempts: [], restarts: 0 },
    });
  });
});
