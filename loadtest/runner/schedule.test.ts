import { describe, expect, it } from 'vitest';
import { resizeLoad } from './scenarios.ts';
import { arrivalOffsets, runClosedLoop, runOpenLoop } from './schedule.ts';

describe('arrivalOffsets', () => {
  it('spaces a constant rate evenly over the duration', () => {
    const offsets = arrivalOffsets({ kind: 'constant', rate: 4, durationS: 2 });
    expect(offsets).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750]);
  });

  it('ramps linearly: a 0 → 100/s ramp over 2 s sends 100, most of them late', () => {
    const offsets = arrivalOffsets({
      kind: 'ramping',
      startRate: 0,
      stages: [{ target: 100, durationS: 2 }],
    });
    expect(offsets).toHaveLength(100);
    // The integral of the rate up to 1 s is a quarter of the total.
    expect(offsets.filter((t) => t < 1000)).toHaveLength(25);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('holds a stage at its target and chains stages', () => {
    const offsets = arrivalOffsets({
      kind: 'ramping',
      startRate: 50,
      stages: [
        { target: 50, durationS: 1 },
        { target: 0, durationS: 1 },
      ],
    });
    expect(offsets.filter((t) => t < 1000)).toHaveLength(50);
    expect(offsets.filter((t) => t >= 1000)).toHaveLength(25);
  });
});

describe('resizeLoad', () => {
  it('scales rates and virtual users and stretches ramping stages to a new duration', () => {
    expect(resizeLoad({ kind: 'constant', rate: 100, durationS: 60 }, { durationS: 3, scale: 0.1 })).toEqual({
      kind: 'constant',
      rate: 10,
      durationS: 3,
    });
    expect(
      resizeLoad({ kind: 'closed', vus: 1000, iterations: 1, maxDurationS: 120 }, { scale: 0.01 }),
    ).toEqual({
      kind: 'closed',
      vus: 10,
      iterations: 1,
      maxDurationS: 120,
    });
    expect(
      resizeLoad(
        {
          kind: 'ramping',
          startRate: 0,
          stages: [
            { target: 500, durationS: 2 },
            { target: 500, durationS: 6 },
          ],
        },
        { durationS: 4, scale: 0.5 },
      ),
    ).toEqual({
      kind: 'ramping',
      startRate: 0,
      stages: [
        { target: 250, durationS: 1 },
        { target: 250, durationS: 3 },
      ],
    });
  });
});

describe('runOpenLoop', () => {
  it('starts every arrival without waiting for earlier ones to finish', async () => {
    let inFlight = 0;
    let peak = 0;
    const result = await runOpenLoop(
      [0, 1, 2, 3, 4],
      async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 50));
        inFlight--;
      },
      new AbortController().signal,
    );
    expect(result.started).toBe(5);
    expect(peak).toBe(5);
  });

  it('stops scheduling once its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runOpenLoop([0, 1, 2], async () => {}, controller.signal);
    expect(result.started).toBe(0);
  });
});

describe('runClosedLoop', () => {
  it('runs vus × iterations calls with at most vus in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const result = await runClosedLoop(
      3,
      2,
      async (i) => {
        seen.push(i);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
      },
      new AbortController().signal,
    );
    expect(result.started).toBe(6);
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
