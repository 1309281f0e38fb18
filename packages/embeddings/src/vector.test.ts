import { describe, expect, it } from 'vitest';
import { cosineSimilarity, dot, l2Normalize, vectorFromBytes, vectorToBytes } from './vector.ts';

describe('vector helpers', () => {
  it('computes dot products and cosine similarity', () => {
    const a = Float32Array.of(1, 2, 3);
    const b = Float32Array.of(2, 4, 6);
    expect(dot(a, b)).toBe(28);
    expect(cosineSimilarity(a, b)).toBeCloseTo(1, 6);
    expect(cosineSimilarity(Float32Array.of(1, 0), Float32Array.of(0, 1))).toBe(0);
    expect(cosineSimilarity(Float32Array.of(1, 0), Float32Array.of(-1, 0))).toBe(-1);
  });

  it('returns 0 cosine for an all-zero vector instead of NaN', () => {
    expect(cosineSimilarity(Float32Array.of(0, 0), Float32Array.of(1, 1))).toBe(0);
  });

  it('rejects vectors of different lengths', () => {
    expect(() => dot(Float32Array.of(1), Float32Array.of(1, 2))).toThrow(RangeError);
    expect(() => cosineSimilarity(Float32Array.of(1), Float32Array.of(1, 2))).toThrow(RangeError);
  });

  it('normalises in place to unit length and leaves zero vectors alone', () => {
    const v = Float32Array.of(3, 4);
    expect(l2Normalize(v)).toBe(v);
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(l2Normalize(new Float32Array(3)))).toEqual([0, 0, 0]);
  });

  it('stores vectors as little-endian float32 bytes and reads them back exactly', () => {
    const v = Float32Array.of(1, -2.5, Math.fround(0.1), 3.4e38);
    const bytes = vectorToBytes(v);
    expect(bytes.length).toBe(16);
    expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x00, 0x80, 0x3f]); // 1.0f, little-endian
    expect(vectorFromBytes(bytes)).toEqual(v);
  });

  it('reads vectors from an unaligned slice of a larger buffer', () => {
    const stored = Buffer.concat([Buffer.from([7]), vectorToBytes(Float32Array.of(0.25, 8))]);
    expect(Array.from(vectorFromBytes(stored.subarray(1)))).toEqual([0.25, 8]);
  });

  it('rejects byte lengths that are not a multiple of 4', () => {
    expect(() => vectorFromBytes(Buffer.alloc(6))).toThrow(RangeError);
  });
});
