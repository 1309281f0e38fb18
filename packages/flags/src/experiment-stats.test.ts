import { describe, expect, it } from 'vitest';
import { compareProportions, normalCdf } from './experiment-stats.ts';

describe('two-proportion comparison', () => {
  it('computes the normal CDF', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
  });

  it('finds 60/100 vs 40/100 significant (z ≈ 2.83) with its interval', () => {
    const c = compareProportions({ successes: 40, trials: 100 }, { successes: 60, trials: 100 });
    expect(c.difference).toBeCloseTo(0.2, 10);
    expect(c.z).toBeCloseTo(2.8284, 3);
    expect(c.pValue).toBeCloseTo(0.00468, 4);
    expect(c.significant).toBe(true);
    expect(c.ci95![0]).toBeCloseTo(0.2 - 1.959964 * Math.sqrt(0.0048), 6);
    expect(c.sampleSizeNeeded).toBe(0);
  });

  it('says how many more trials a small difference needs', () => {
    const c = compareProportions({ successes: 50, trials: 100 }, { successes: 55, trials: 100 });
    expect(c.significant).toBe(false);
    // ~1562 per arm for 0.50 vs 0.55 at 5%/80%; 100 are there already.
    expect(c.sampleSizeNeeded).toBeGreaterThan(1400);
    expect(c.sampleSizeNeeded).toBeLessThan(1600);
  });

  it('reports nothing it cannot compute', () => {
    const c = compareProportions({ successes: 0, trials: 0 }, { successes: 3, trials: 4 });
    expect(c).toMatchObject({
      ci95: null,
      z: null,
      pValue: null,
      significant: false,
      sampleSizeNeeded: null,
    });
  });
});
