/**
 * A small deterministic random source (mulberry32): the same seed gives the same sequence.
 *
 * @example
 * const random = createSeededRandom(42);
 * random(); // 0 <= x < 1, same value on every run
 */
export function createSeededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return function random(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
