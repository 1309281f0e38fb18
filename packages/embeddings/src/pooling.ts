import { l2Normalize } from './vector.ts';

/** How token vectors become one text vector: the mean over real tokens, or the first ([CLS]) token. */
export type Pooling = 'mean' | 'cls';

/** Shape of a `[batch, sequence, dimension]` hidden-state tensor. */
export type HiddenStateShape = { batch: number; sequence: number; dimension: number };

/**
 * Pools a row-major `[batch, sequence, dimension]` hidden state into one unit-length vector per
 * text, counting only positions whose `attentionMask` entry (`[batch, sequence]`) is non-zero.
 */
export function poolHiddenState(
  hidden: Float32Array,
  attentionMask: BigInt64Array,
  shape: HiddenStateShape,
  pooling: Pooling,
): Float32Array[] {
  const { batch, sequence, dimension } = shape;
  if (hidden.length !== batch * sequence * dimension || attentionMask.length !== batch * sequence) {
    throw new RangeError(
      `hidden state of ${hidden.length} values or mask of ${attentionMask.length} does not match ` +
        `[${batch}, ${sequence}, ${dimension}]`,
    );
  }
  const vectors: Float32Array[] = [];
  for (let row = 0; row < batch; row++) {
    const vector = new Float32Array(dimension);
    if (pooling === 'cls') {
      vector.set(hidden.subarray(row * sequence * dimension, row * sequence * dimension + dimension));
    } else {
      let count = 0;
      for (let position = 0; position < sequence; position++) {
        if (attentionMask[row * sequence + position] === 0n) continue;
        const offset = (row * sequence + position) * dimension;
        for (let d = 0; d < dimension; d++) vector[d] = vector[d]! + hidden[offset + d]!;
        count++;
      }
      if (count > 0) for (let d = 0; d < dimension; d++) vector[d] = vector[d]! / count;
    }
    vectors.push(l2Normalize(vector));
  }
  return vectors;
}
