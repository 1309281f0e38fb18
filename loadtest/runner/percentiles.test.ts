import { describe, expect, it } from 'vitest';
import { percentileOf, summarize } from './percentiles.ts';

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileOf(sorted, 0.5)).toBe(50);
    expect(percentileOf(sorted, 0.95)).toBe(95);
    expect(percentileOf(sorted, 0.99)).toBe(99);
    expect(percentileOf(sorted, 1)).toBe(100);
    expect(percentileOf([7], 0.01)).toBe(7);
  });

  it('summarises unsorted samples and says NaN for none', () => {
    expect(summarize([30, 10, 20])).toEqual({ count: 3, p50: 20, p95: 30, p99: 30, max: 30 });
    expect(summarize([]).p99).toBeNaN();
  });
});
