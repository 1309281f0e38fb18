import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { answerSettings, ConfigError, loadConfig, settingsUnderVariant } from './config.ts';

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379/2',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  ADMIN_TOKEN: 'a'.repeat(32),
};

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('knows every model it may answer with, for bounded metric labels', () => {
    const config = loadConfig({
      ...base,
      LLM_PROVIDER: 'endpoint',
      LLM_ENDPOINT_URL: 'http://127.0.0.1:8080/v1',
      LLM_MODEL: 'big',
      LLM_FALLBACK_MODEL: 'backup',
      LLM_SIMPLE_MODEL: 'small',
      ESCALATION_MODEL: 'big',
      LLM_PRICES_JSON: JSON.stringify({
        small: { input_usd: 1e-8, output_usd: 1e-8 },
        priced: { input_usd: 1e-7, output_usd: 1e-7 },
      }),
    });
    expect([...config.llm.knownModels].sort()).toEqual(['backup', 'big', 'extractive', 'priced', 'small']);
  });

  it('turns tracing on only when an exporter or an OTLP endpoint is configured', () => {
    const enabled = (env: Record<string, string>) => loadConfig({ ...base, ...env }).tracing.enabled;
    // Nothing set: no exporter at all (not the SDK's default OTLP exporter to localhost:4318).
    expect(enabled({})).toBe(false);
    expect(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(enabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(enabled({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(
      enabled({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
    ).toBe(false);
    expect(enabled({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
    expect(loadConfig({ ...base, OTEL_SERVICE_NAME: 'assistant-eu' }).tracing.serviceName).toBe(
      'assistant-eu',
    );
    expect(
      problemsOf({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'udp', OTEL_TRACES_SAMPLER: 'sometimes' }),
    ).toHaveLength(2);
  });

  it('applies defaults and keeps the Redis database index in the URL', () => {
    const config = loadConfig(base);
    expect(config.api.port).toBe(3000);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379/2');
    expect(config.llm.provider).toBe('extractive');
    expect(config.llm.model).toBe('extractive');
    expect(config.llm.pricing('any-model')).toEqual({ inputNanosPerToken: 200, outputNanosPerToken: 600 });
  });

  it('accepts a Redis Cluster URL (TLS too) and refuses one with a database index', () => {
    for (const url of ['redis+cluster://127.0.0.1:7000', 'rediss+cluster://u:p@redis.example:6380/0']) {
      expect(loadConfig({ ...base, REDIS_URL: url }).redis.url).toBe(url);
    }
    expect(problemsOf({ ...base, REDIS_URL: 'redis+cluster://127.0.0.1:7000/2' })[0]).toMatch(
      /^REDIS_URL: a Redis Cluster has only database 0/,
    );
    expect(problemsOf({ ...base, REDIS_URL: 'redis+sentinel://127.0.0.1:7000' })[0]).toMatch(/^REDIS_URL:/);
  });

  it('reads process counts: 1 by default, a number, or auto for one per core; nothing else', () => {
    expect(loadConfig(base).api.processes).toBe(1);
    expect(loadConfig(base).worker.processes).toBe(1);
    const config = loadConfig({ ...base, API_PROCESSES: '3', WORKER_PROCESSES: 'auto' });
    expect(config.api.processes).toBe(3);
    expect(config.worker.processes).toBe(availableParallelism());
    const problems = problemsOf({ ...base, API_PROCESSES: '0', WORKER_PROCESSES: 'all' });
    expect(problems).toEqual([
      'API_PROCESSES: must be a whole number ≥ 1 or auto',
      'WORKER_PROCESSES: must be a whole number ≥ 1 or auto',
    ]);
  });

  it('names every missing variable', () => {
    const problems = problemsOf({});
    expect(problems.join('\n')).toMatch(/REDIS_URL/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL/);
    expect(problems.join('\n')).toMatch(/ADMIN_TOKEN/);
  });

  it('rejects malformed values with the variable named', () => {
    expect(problemsOf({ ...base, PORT: 'eighty' })[0]).toMatch(/^PORT:/);
    expect(problemsOf({ ...base, REDIS_URL: 'http://x' })[0]).toMatch(/^REDIS_URL:/);
    expect(problemsOf({ ...base, LLM_PROVIDER: 'openai' })[0]).toMatch(/^LLM_PROVIDER:/);
    expect(problemsOf({ ...base, ADMIN_TOKEN: 'short' })[0]).toMatch(/^ADMIN_TOKEN:/);
  });

  it('picks endpoint when LLM_ENDPOINT_URL is set and hf when only HF_TOKEN is', () => {
    expect(loadConfig({ ...base, LLM_ENDPOINT_URL: 'http://127.0.0.1:8089' }).llm.provider).toBe('endpoint');
    const hf = loadConfig({ ...base, HF_TOKEN: 'hf_x' }).llm;
    expect(hf.provider).toBe('hf');
    expect(hf.model).toBe('meta-llama/Llama-3.1-8B-Instruct');
  });

  it('requires what a chosen provider needs', () => {
    expect(problemsOf({ ...base, LLM_PROVIDER: 'hf' })).toEqual([
      'HF_TOKEN: is required when LLM_PROVIDER=hf',
    ]);
    expect(problemsOf({ ...base, LLM_PROVIDER: 'endpoint' })).toEqual([
      'LLM_ENDPOINT_URL: is required when LLM_PROVIDER=endpoint',
    ]);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ...base, HF_TOKEN: '', LLM_ENDPOINT_URL: '' }).llm.provider).toBe('extractive');
  });

  it('merges tier overrides from TIERS_JSON and rejects bad ones', () => {
    const config = loadConfig({ ...base, TIERS_JSON: '{"free": {"perMinute": 20}}' });
    expect(config.limits.tiers.free.perMinute).toBe(20);
    expect(config.limits.tiers.free.perHour).toBe(100);
    expect(config.limits.global).toEqual({ perHour: 1000, dailyBudgetMicros: 100_000_000 });
    expect(problemsOf({ ...base, TIERS_JSON: '{"gold": {}}' })[0]).toMatch(/^TIERS_JSON/);
    expect(problemsOf({ ...base, TIERS_JSON: '{oops' })[0]).toMatch(/^TIERS_JSON: must be valid JSON/);
  });

  it('prices models from LLM_PRICES_JSON, others at the default', () => {
    const config = loadConfig({
      ...base,
      LLM_PRICES_JSON: '{"big": {"input_usd": 0.000001, "output_usd": 0.000003}}',
    });
    expect(config.llm.pricing('big')).toEqual({ inputNanosPerToken: 1000, outputNanosPerToken: 3000 });
    expect(config.llm.pricing('small')).toEqual({ inputNanosPerToken: 200, outputNanosPerToken: 600 });
    expect(
      problemsOf({ ...base, LLM_PRICES_JSON: '{"big": {"input_usd": -1, "output_usd": 0}}' })[0],
    ).toMatch(/^LLM_PRICES_JSON/);
  });
});

describe('routing config and answer settings', () => {
  const endpoint = { ...base, LLM_ENDPOINT_URL: 'http://127.0.0.1:9/v1', LLM_MODEL: 'big' };
  const prices = JSON.stringify({ small: { input_usd: 1e-8, output_usd: 2e-8 } });

  it('routes every class to the default model until a class model is configured', () => {
    const config = loadConfig(endpoint);
    expect(config.llm.routing).toEqual({
      models: { simple: 'big', complex: 'big' },
      complexMinWords: 18,
      complexMinNotes: 0,
      centroids: true,
    });
    expect(answerSettings(config.llm)).toEqual({
      provider: 'endpoint',
      model: 'big',
      prompt: 'answer@1',
      routing: null,
    });
  });

  it('refuses a routed model without a price, and takes one with its price row', () => {
    expect(problemsOf({ ...endpoint, LLM_SIMPLE_MODEL: 'small' })).toEqual([
      'LLM_SIMPLE_MODEL: model small needs its price in LLM_PRICES_JSON',
    ]);
    const config = loadConfig({ ...endpoint, LLM_SIMPLE_MODEL: 'small', LLM_PRICES_JSON: prices });
    expect(config.llm.routing.models).toEqual({ simple: 'small', complex: 'big' });
    expect(config.llm.pricing('small')).toEqual({ inputNanosPerToken: 10, outputNanosPerToken: 20 });
    // The offline answerer answers every class itself.
    expect(loadConfig({ ...base, LLM_SIMPLE_MODEL: 'small' }).llm.routing.models.simple).toBe('extractive');
  });

  it('puts the routing table in the settings only where it picks the model', () => {
    const settings = answerSettings(
      loadConfig({ ...endpoint, LLM_SIMPLE_MODEL: 'small', LLM_PRICES_JSON: prices }).llm,
    );
    const routing = {
      simple: 'small',
      complex: 'big',
      complexMinWords: 18,
      complexMinNotes: 0,
      centroids: true,
    };
    expect(settings.routing).toEqual(routing);
    expect(settingsUnderVariant(settings, undefined, { routing: true }).routing).toEqual(routing);
    expect(settingsUnderVariant(settings, undefined, { routing: false }).routing).toBeNull();
    // A variant's model wins over routing; its prompt replaces the default one.
    expect(settingsUnderVariant(settings, { model: 'x', prompt: 'answer@2' }, { routing: true })).toEqual({
      provider: 'endpoint',
      model: 'x',
      prompt: 'answer@2',
      routing: null,
    });
    expect(settingsUnderVariant(settings, { prompt: 'answer@2' }, { routing: true })).toMatchObject({
      model: 'big',
      prompt: 'answer@2',
      routing,
    });
  });
});
