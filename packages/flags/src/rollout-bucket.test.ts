import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ruleAllows } from './flag-rules.ts';
import { inRollout, rolloutBucket } from './rollout-bucket.ts';

/** 10,000 synthetic user ids, the same on every run (UUID-shaped hashes of their index). */
const USERS = Array.from({ length: 10_000 }, (_, i) => {
  const h = createHash('sha256').update(`synthetic-user-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
});

const cohort = (percentage: number, salt = 'semantic_cache') =>
  new Set(USERS.filter((u) => inRollout(percentage, salt, u)));

describe('percentage rollout', () => {
  it('covers 5% ± 0.5% of 10,000 synthetic users', () => {
    const share = cohort(5).size / USERS.length;
    console.log(`5% rollout covers ${(share * 100).toFixed(2)}% of ${USERS.length} users`);
    expect(share).toBeGreaterThanOrEqual(0.045);
    expect(share).toBeLessThanOrEqual(0.055);
  });

  it('picks the same users every time', () => {
    expect([...cohort(5)]).toEqual([...cohort(5)]);
    expect(rolloutBucket('semantic_cache', USERS[0]!)).toBe(rolloutBucket('semantic_cache', USERS[0]!));
  });

  it('nests 5% inside 25% inside 100%, and 25% covers 25% ± 1%', () => {
    const five = cohort(5);
    const quarter = cohort(25);
    for (const user of five) expect(quarter.has(user)).toBe(true);
    expect(quarter.size / USERS.length).toBeGreaterThan(0.24);
    expect(quarter.size / USERS.length).toBeLessThan(0.26);
    expect(cohort(100).size).toBe(USERS.length);
    expect(cohort(0).size).toBe(0);
  });

  it('gives each flag its own cohort', () => {
    const a = cohort(5, 'semantic_cache');
    const b = cohort(5, 'exact_cache');
    const overlap = [...a].filter((u) => b.has(u)).length;
    // Independent 5% cohorts share about 5% of each other.
    expect(overlap).toBeLessThan(a.size * 0.15);
  });
});

describe('flag rule', () => {
  const rule = { enabled: true, percentage: 0, allow: [USERS[1]!], deny: [USERS[2]!] };
  it('lets the deny list win over the allow list and the rollout', () => {
    expect(ruleAllows('budgets', { ...rule, percentage: 100, allow: [USERS[2]!] }, USERS[2]!)).toBe(false);
  });
  it('lets the allow list in at 0% and when disabled', () => {
    expect(ruleAllows('budgets', rule, USERS[1]!)).toBe(true);
    expect(ruleAllows('budgets', { ...rule, enabled: false }, USERS[1]!)).toBe(true);
  });
  it('is off for everyone else when disabled, whatever the percentage', () => {
    expect(ruleAllows('budgets', { ...rule, enabled: false, percentage: 100 }, USERS[3]!)).toBe(false);
  });
});
