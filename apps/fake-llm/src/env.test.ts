import { describe, expect, it } from 'vitest';
import { readFakeLlmEnv } from './env.ts';

describe('readFakeLlmEnv', () => {
  it('defaults to port 8089 on 127.0.0.1 with no setting overrides', () => {
    expect(readFakeLlmEnv({})).toEqual({ port: 8089, hostname: '127.0.0.1', settings: {} });
  });

  it('maps every variable onto its knob', () => {
    expect(
      readFakeLlmEnv({
        FAKE_LLM_PORT: '9000',
        FAKE_LLM_TTFT_MS: '250',
        FAKE_LLM_TOKENS_PER_SECOND: '40',
        FAKE_LLM_ERROR_RATE: '0.1',
        FAKE_LLM_ERROR_KINDS: 'rate_limit, reset',
        FAKE_LLM_SEED: '3',
      }),
    ).toEqual({
      port: 9000,
      hostname: '127.0.0.1',
      settings: {
        ttftMs: 250,
        tokensPerSecond: 40,
        errorRate: 0.1,
        errorKinds: ['rate_limit', 'reset'],
        seed: 3,
      },
    });
  });

  it('rejects unknown fault kinds and out-of-range rates', () => {
    expect(() => readFakeLlmEnv({ FAKE_LLM_ERROR_KINDS: 'rate_limit,meteor' })).toThrow();
    expect(() => readFakeLlmEnv({ FAKE_LLM_ERROR_RATE: '1.5' })).toThrow();
  });
});
