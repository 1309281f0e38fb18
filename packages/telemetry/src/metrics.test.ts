import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLabelFolder, createMetrics, registerLedgerGauges } from './metrics.ts';

describe('createLabelFolder', () => {
  it('keeps known values and folds every other into other', () => {
    const model = createLabelFolder(['fake-model', 'extractive']);
    expect(model('fake-model')).toBe('fake-model');
    expect(model('extractive')).toBe('extractive');
    expect(model('gpt-from-a-reply')).toBe('other');
  });
});

describe('registerLedgerGauges', () => {
  it('reads the ledger at most once per max age, and keeps the last figure when a read fails', async () => {
    const registry = new Registry();
    let now = 0;
    let reads = 0;
    let next: number | Error = 2;
    registerLedgerGauges(
      registry,
      {
        usersOverDailyBudget: async () => {
          reads++;
          if (next instanceof Error) throw next;
          return next;
        },
      },
      { maxAgeMs: 15_000, now: () => now },
    );
    const value = async () =>
      (await registry.getSingleMetric('assistant_users_over_daily_budget')!.get()).values[0]?.value;

    expect(await value()).toBe(2);
    next = 3;
    now = 14_999;
    expect(await value()).toBe(2);
    expect(reads).toBe(1);
    now = 15_000;
    expect(await value()).toBe(3);
    next = new Error('postgres down');
    now = 40_000;
    expect(await value()).toBe(3);
    expect(reads).toBe(3);
  });
});

describe('createMetrics', () => {
  it('exposes the plan counters with their known labels at 0 before first use', async () => {
    const text = await createMetrics('test').registry.metrics();
    expect(text).toContain('assistant_queries_total{status="refused",service="test"} 0');
    expect(text).toContain('assistant_rate_limit_hits_total{limit="global_budget",service="test"} 0');
    expect(text).toContain('assistant_truncations_total{kind="context",service="test"} 0');
    expect(text).not.toContain('nodejs_active_handles_total');
  });
});
