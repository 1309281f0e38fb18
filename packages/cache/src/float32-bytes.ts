import { endianness } from 'node:os';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** A vector as little-endian float32 bytes (4 per dimension), the cache's storage format. */
export function float32ToBytes(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN_HOST)
    return Buffer.from(vector.buffer.slice(vector.byteOffset, vector.byteOffset + vector.byteLength));
  const bytes = Buffer.allocUnsafe(vector.byteLength);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes;
}

/**
 * Reads bytes written by {@link float32ToBytes} into a new (aligned, unshared) vector, or
 * `undefined` when the length is not a whole number of floats.
 */
export function float32FromBytes(bytes: Uint8Array): Float32Array | undefined {
  if (bytes.byteLength % 4 !== 0) return undefined;
  const vector = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(vector.buffer).set(bytes);
    return vector;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}

/**
 * Cosine similarity of `query` and the float32 LE vector stored in `bytes` from `offset`, read in
 * place (no copy per entry while scanning). 0 when either is all zeros or the lengths differ.
 */
export function cosineWithStored(query: Float32Array, bytes: Buffer, offset: number): number {
  if (bytes.byteLength - offset !== query.length * 4) return 0;
  let dot = 0;
  let queryNorm = 0;
  let storedNorm = 0;
  for (let i = 0; i < query.length; i++) {
    const q = query[i]!;
    const s = bytes.readFloatLE(offset + i * 4);
    dot += q * s;
    queryNorm += q * q;
    storedNorm += s * s;
  }
  return queryNorm === 0 || storedNorm === 0 ? 0 : dot / Math.sqrt(queryNorm * storedNorm);
}
