import { describe, expect, it } from 'vitest';
import { poolHiddenState } from './pooling.ts';

// Two texts, sequence 3, dimension 2; the second text has one padded position.
const hidden = Float32Array.of(1, 0, 3, 0, 5, 0, 0, 2, 0, 4, 100, 100);
const mask = BigInt64Array.of(1n, 1n, 1n, 1n, 1n, 0n);
const shape = { batch: 2, sequence: 3, dimension: 2 };

describe('poolHiddenState', () => {
  it('mean-pools over unmasked positions only, then normalises', () => {
    const [first, second] = poolHiddenState(hidden, mask, shape, 'mean');
    expect(Array.from(first!)).toEqual([1, 0]);
    // The padded [100, 100] must not leak in: the mean of [0, 2] and [0, 4] points straight up.
    expect(Array.from(second!)).toEqual([0, 1]);
  });

  it('takes the first token with cls pooling', () => {
    const [, second] = poolHiddenState(hidden, mask, shape, 'cls');
    expect(Array.from(second!)).toEqual([0, 1]);
  });

  it('returns unit-length vectors', () => {
    const h = Float32Array.of(1, 2, 3, 4);
    const [v] = poolHiddenState(h, BigInt64Array.of(1n, 1n), { batch: 1, sequence: 2, dimension: 2 }, 'mean');
    expect(Math.hypot(...v!)).toBeCloseTo(1, 6);
  });

  it('rejects a hidden state that does not match the shape', () => {
    expect(() => poolHiddenState(hidden, mask, { ...shape, dimension: 3 }, 'mean')).toThrow(RangeError);
  });
});
