import { describe, expect, it } from 'vitest';
import { cosineWithStored, float32FromBytes, float32ToBytes } from './float32-bytes.ts';

describe('float32 bytes', () => {
  it('round-trips every bit, from an unaligned buffer too', () => {
    const vector = new Float32Array([0.1, -0, 1e-45, -3.4028234663852886e38, Number.POSITIVE_INFINITY, 42.5]);
    const bytes = float32ToBytes(vector);
    expect(bytes.byteLength).toBe(24);
    expect(bytes.readFloatLE(4 * 5)).toBe(42.5);
    const unaligned = Buffer.concat([Buffer.from([7]), bytes]).subarray(1);
    const back = float32FromBytes(unaligned)!;
    expect(Buffer.from(back.buffer).equals(bytes)).toBe(true);
    expect(Object.is(back[1], -0)).toBe(true);
  });

  it('encodes a view into a larger buffer without its neighbours', () => {
    const big = new Float32Array([1, 2, 3, 4]);
    expect([...float32FromBytes(float32ToBytes(big.subarray(1, 3)))!]).toEqual([2, 3]);
  });

  it('rejects a length that is not whole floats', () => {
    expect(float32FromBytes(Buffer.alloc(7))).toBeUndefined();
  });

  it('computes cosine against a stored vector in place', () => {
    const stored = Buffer.concat([Buffer.from('header'), float32ToBytes(new Float32Array([3, 4]))]);
    expect(cosineWithStored(new Float32Array([6, 8]), stored, 6)).toBeCloseTo(1, 6);
    expect(cosineWithStored(new Float32Array([4, -3]), stored, 6)).toBeCloseTo(0, 6);
    expect(cosineWithStored(new Float32Array([1, 2, 3]), stored, 6)).toBe(0);
  });
});
