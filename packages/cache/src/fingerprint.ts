import { createHash } from 'node:crypto';

/** A JSON value whose serialization {@link stableJson} makes deterministic. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * The settings an answer depends on besides the question and the notes (model id, prompt
 * variant, …): any change must give a different cache key. The tier comes from the cache state.
 *
 * @example
 * const settings: AnswerSettings = { model: 'llama-3.1-8b-instruct', promptVariant: 'v2' };
 */
export type AnswerSettings = { readonly [key: string]: JsonValue };

/** JSON with object keys sorted at every depth, so equal values always serialize equally. */
export function stableJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: JsonValue) => stableJson(item)).join(',')}]`;
  const record = value as { readonly [key: string]: JsonValue };
  const fields = Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${stableJson(record[key]!)}`);
  return `{${fields.join(',')}}`;
}

/** Hex SHA-256 of a UTF-8 string or of bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Raw 32-byte SHA-256 of a UTF-8 string. */
export function sha256Bytes(data: string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Hex SHA-256 of the stable JSON of answer settings. */
export function settingsFingerprint(settings: AnswerSettings): string {
  return sha256Hex(stableJson(settings));
}
