import { describe, expect, it } from 'vitest';
import type { AppError } from '../app-error.ts';
import { type BacklogReading, createBacklogGate } from './backlog-gate.ts';

// The gate's arithmetic, with a hand-driven reading source and clock.
function setup(maxWaiting: number, maxWaitMs = 0) {
  let now = 0;
  const reads: ((reading: BacklogReading) => void)[] = [];
  const gate = createBacklogGate(
    { maxWaiting, maxWaitMs, refreshMs: 100 },
    {
      readBacklog: () => new Promise<BacklogReading>((resolve) => reads.push(resolve)),
      now: () => now,
      random: () => 0,
    },
  );
  /** Lets `ms` pass, then one check starts a read that answers `reading`; its job lands meanwhile. */
  async function tick(ms: number, reading: BacklogReading) {
    now += ms;
    const before = reads.length;
    try {
      gate.check().landed();
    } catch {
      // a refusal still starts the read
    }
    expect(reads).toHaveLength(before + 1);
    reads[before]!(reading);
    await Promise.resolve();
  }
  const refusal = () => {
    try {
      gate.check();
      return undefined;
    } catch (error) {
      return error as AppError;
    }
  };
  return { gate, reads, tick, refusal, advance: (ms: number) => (now += ms) };
}

describe('createBacklogGate', () => {
  it('counts the questions it lets through until a read includes them, and refuses at the cap', () => {
    const { gate, reads } = setup(3);
    for (let i = 0; i < 3; i++) gate.check();
    expect(reads).toHaveLength(1); // one read at a time
    expect(() => gate.check()).toThrow(/3 questions are already waiting/);
  });

  it('keeps questions let through while a read was in flight on top of its count', async () => {
    const { gate, reads, advance } = setup(10);
    const first = gate.check(); // starts read 1; this question may be missing from its count
    reads[0]!({ waiting: 4, finished: 0 });
    await Promise.resolve();
    expect(gate.estimate()).toBe(5);
    first.landed(); // its job is in the queue: the next read holds it
    advance(100);
    gate.check().landed(); // starts read 2, lands while it is in flight
    gate.check().landed();
    reads[1]!({ waiting: 5, finished: 0 });
    await Promise.resolve();
    expect(gate.estimate()).toBe(7);
  });

  it('counts a question in flight until its job lands, however many reads go by', async () => {
    const { gate, reads, advance } = setup(10);
    // Slow submits: let through, their jobs not yet in the queue when the next reads count it.
    const slow = [gate.check(), gate.check(), gate.check()];
    for (let read = 0; read < 3; read++) {
      reads[read]!({ waiting: 0, finished: 0 });
      await Promise.resolve();
      expect(gate.estimate()).toBe(3);
      advance(100);
      expect(() => gate.check().dropped()).not.toThrow(); // starts the next read, and ends without a job
    }
    // One lands, one is dropped (withdrawn), one is still on its way; settling twice counts once.
    slow[0]!.landed();
    slow[0]!.landed();
    slow[1]!.dropped();
    expect(gate.estimate()).toBe(2); // the landed job and the one in flight
    reads[3]!({ waiting: 1, finished: 0 }); // a read begun before it landed: counted again, as a precaution
    await Promise.resolve();
    expect(gate.estimate()).toBe(3);
    advance(100);
    gate.check().dropped(); // read 5 begins after the landing
    reads[4]!({ waiting: 1, finished: 0 });
    await Promise.resolve();
    expect(gate.estimate()).toBe(2);
  });

  it('is off at 0', () => {
    const { gate, reads } = setup(0, 10_000);
    for (let i = 0; i < 5; i++) gate.check();
    expect(reads).toHaveLength(0);
  });

  it('measures the drain rate only while jobs wait, and refuses a wait over the limit with the time to drain', async () => {
    const { gate, tick, refusal } = setup(10_000, 10_000);
    // An idle queue finishing 5 jobs/s is demand, not capacity: no rate.
    for (let i = 1; i <= 30; i++) await tick(100, { waiting: 0, finished: i / 2 });
    expect(gate.drainRate()).toBeUndefined();
    // Saturated: 600 waiting, 40 jobs/s finished. Not trusted before 2 s of readings.
    for (let i = 1; i <= 19; i++) await tick(100, { waiting: 600, finished: 15 + 4 * i });
    expect(gate.drainRate()).toBeUndefined();
    for (let i = 20; i <= 30; i++) await tick(100, { waiting: 600, finished: 15 + 4 * i });
    expect(gate.drainRate()).toBeCloseTo(40, 5);
    // 600 (+ the last tick's job, landed during its read) ÷ 40/s ≈ 15 s > 10 s: refused; draining to 400
    // at 40/s takes 5 s, the Retry-After.
    const refused = refusal();
    expect(refused?.code).toBe('overloaded');
    expect(refused?.status).toBe(503);
    expect(refused?.retryAfter).toBeGreaterThanOrEqual(5);
    expect(refused?.retryAfter).toBeLessThanOrEqual(6);
    expect(refused?.message).toMatch(/wait for a worker is about 1[5-6] s, over the 10 s limit/);
  });

  it('accepts a backlog the measured rate drains within the limit, and never refuses a short queue', async () => {
    const { gate, tick, refusal } = setup(10_000, 10_000);
    for (let i = 1; i <= 30; i++) await tick(100, { waiting: 300, finished: 4 * i });
    expect(gate.drainRate()).toBeCloseTo(40, 5);
    expect(refusal()).toBeUndefined(); // ~300 ÷ 40/s ≈ 8 s
    // Workers stalled (nothing finishes) but only 10 wait: no overload.
    const stalled = setup(10_000, 10_000);
    for (let i = 1; i <= 30; i++) await stalled.tick(100, { waiting: 10, finished: 7 });
    expect(stalled.gate.drainRate()).toBe(0);
    expect(stalled.refusal()).toBeUndefined();
  });

  it('leaves a queue nothing drains (workers restarting) and a fresh fleet to the count cap', async () => {
    const stalled = setup(600, 10_000);
    for (let i = 1; i <= 30; i++) await stalled.tick(100, { waiting: 500, finished: 7 });
    expect(stalled.gate.drainRate()).toBe(0);
    expect(stalled.refusal()).toBeUndefined();
    for (let i = 1; i <= 3; i++) await stalled.tick(100, { waiting: 600, finished: 7 });
    expect(stalled.refusal()?.message).toMatch(/600 questions are already waiting/);
    const fresh = setup(10_000, 10_000);
    await fresh.tick(100, { waiting: 5_000, finished: 0 });
    expect(fresh.refusal()).toBeUndefined();
  });
});
