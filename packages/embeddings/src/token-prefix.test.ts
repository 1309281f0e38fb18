import { describe, expect, it } from 'vitest';
import { prefixEndWithinTokens } from './token-prefix.ts';

// One token per started 4 characters of each word: "abcdefgh" = 2, "a" = 1.
function countPieces(text: string): number {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .reduce((sum, word) => sum + Math.ceil([...word].length / 4), 0);
}

describe('prefixEndWithinTokens', () => {
  it('returns the whole length when the text fits', () => {
    expect(prefixEndWithinTokens('one two three', 10, countPieces)).toBe(13);
    expect(prefixEndWithinTokens('   ', 1, countPieces)).toBe(3);
  });

  it('cuts after the last whole word that fits', () => {
    const text = 'alpha beta gamma delta epsilon';
    // alpha=2, beta=1, gamma=2, delta=2: 5 tokens end after "gamma".
    expect(text.slice(0, prefixEndWithinTokens(text, 5, countPieces))).toBe('alpha beta gamma');
    expect(text.slice(0, prefixEndWithinTokens(text, 6, countPieces))).toBe('alpha beta gamma');
    expect(text.slice(0, prefixEndWithinTokens(text, 7, countPieces))).toBe('alpha beta gamma delta');
  });

  it('cuts inside the first word when even that is too long', () => {
    const text = 'abcdefghijkl rest';
    expect(text.slice(0, prefixEndWithinTokens(text, 2, countPieces))).toBe('abcdefgh');
    expect(prefixEndWithinTokens(text, 0, countPieces)).toBe(0);
  });

  it('never splits a surrogate pair', () => {
    const text = '😀😀😀😀😀😀'; // 6 code points, 12 UTF-16 units
    const end = prefixEndWithinTokens(text, 1, countPieces);
    expect(end).toBe(8);
    expect(text.slice(0, end)).toBe('😀😀😀😀');
  });

  it('finds the cut in a long text without counting it whole', () => {
    const text = 'word '.repeat(200_000);
    const lengths: number[] = [];
    const end = prefixEndWithinTokens(text, 100, (t) => {
      lengths.push(t.length);
      return countPieces(t);
    });
    expect(countPieces(text.slice(0, end))).toBe(100);
    expect(Math.max(...lengths)).toBeLessThan(2_000);
    expect(lengths.length).toBeLessThan(30);
  });
});
