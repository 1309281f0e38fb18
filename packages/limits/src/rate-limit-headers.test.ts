import { describe, expect, it } from 'vitest';
import { closestToExhaustion, formatRateLimit, formatRateLimitPolicy } from './rate-limit-headers.ts';

describe('formatRateLimitPolicy', () => {
  it('lists quoted policies with quota, unit and window as the draft writes them', () => {
    expect(
      formatRateLimitPolicy([
        { name: 'minute', quota: 10, windowSeconds: 60 },
        { name: 'hour', quota: 100, windowSeconds: 3600 },
        { name: 'in-flight', quota: 5, unit: 'concurrent-requests' },
      ]),
    ).toBe('"minute";q=10;w=60, "hour";q=100;w=3600, "in-flight";q=5;qu="concurrent-requests"');
  });

  it('leaves out the default unit', () => {
    expect(formatRateLimitPolicy([{ name: 'day', quota: 0, windowSeconds: 86400, unit: 'requests' }])).toBe(
      '"day";q=0;w=86400',
    );
  });
});

describe('formatRateLimit', () => {
  it('names one policy with what is left and when it resets', () => {
    expect(formatRateLimit({ name: 'minute', remaining: 3, resetSeconds: 41.2 })).toBe('"minute";r=3;t=42');
  });

  it('never prints a negative remainder', () => {
    expect(formatRateLimit({ name: 'hour', remaining: -2 })).toBe('"hour";r=0');
  });
});

describe('closestToExhaustion', () => {
  it('picks the fewest left, and of equals the longest wait', () => {
    const picked = closestToExhaustion([
      { name: 'minute', remaining: 3, resetSeconds: 10 },
      { name: 'hour', remaining: 3, resetSeconds: 900 },
      { name: 'day', remaining: 80, resetSeconds: 5000 },
    ]);
    expect(picked?.name).toBe('hour');
  });
});
