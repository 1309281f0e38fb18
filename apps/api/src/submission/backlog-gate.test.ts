import { describe, expect, it } from 'vitest';
import { createBacklogGate } from './backlog-gate.ts';

// The gate's arithmetic, with a hand-driven count source and clock.
function setup(maxWaiting: number) {
  let now = 0;
  const reads: ((count: number) => void)[] = [];
  const gate = createBacklogGate(
    { maxWaiting, refreshMs: 100 },
    {
      readBacklog: () => new Promise<number>((resolve) => reads.push(resolve)),
      now: () => now,
      random: () => 0,
    },
  );
  return { gate, reads, advance: (ms: number) => (now += ms) };
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
    gate.check(); // starts read 1; this question may be missing from its count
    reads[0]!(4);
    await Promise.resolve();
    expect(gate.estimate()).toBe(5);
    advance(100);
    gate.check(); // starts read 2
    gate.check();
    reads[1]!(5);
    await Promise.resolve();
    expect(gate.estimate()).toBe(7);
  });

  it('is off at 0', () => {
    const { gate, reads } = setup(0);
    for (let i = 0; i < 5; i++) gate.check();
    expect(reads).toHaveLength(0);
  });
});
