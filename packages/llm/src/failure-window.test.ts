import { describe, expect, it } from 'vitest';
import { createFailureWindow } from './failure-window.ts';

describe('createFailureWindow', () => {
  it('trips when the threshold-th failure lands within the window of the first', () => {
    let clock = 0;
    const window = createFailureWindow({ windowMs: 60_000, threshold: 3 }, () => clock);
    expect(window.record()).toBe(false);
    clock = 30_000;
    expect(window.record()).toBe(false);
    clock = 59_999;
    expect(window.record()).toBe(true);
  });

  it('forgets a failure windowMs after it happened', () => {
    let clock = 0;
    const window = createFailureWindow({ windowMs: 60_000, threshold: 3 }, () => clock);
    window.record();
    clock = 30_000;
    window.record();
    clock = 60_000;
    expect(window.record()).toBe(false);
    expect(window.count()).toBe(2);
    clock = 90_000;
    expect(window.count()).toBe(1);
  });

  it('keeps at most threshold timestamps and starts over on reset', () => {
    const window = createFailureWindow({ threshold: 5 }, () => 0);
    for (let i = 0; i < 100; i++) window.record();
    expect(window.count()).toBe(5);
    window.reset();
    expect(window.count()).toBe(0);
    expect(window.record()).toBe(false);
  });

  it('refuses nonsense options', () => {
    expect(() => createFailureWindow({ windowMs: 0 }, Date.now)).toThrow(/windowMs/);
    expect(() => createFailureWindow({ threshold: 1.5 }, Date.now)).toThrow(/threshold/);
  });
});
