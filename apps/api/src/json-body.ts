import type { Context } from 'hono';
import type { z } from 'zod';
import { AppError } from './app-error.ts';

/**
 * Reads a JSON body and validates it: wrong content type → 415, malformed JSON → 400
 * `invalid_json`, schema violations → 400 `invalid_request` (via the ZodError in onError).
 * An empty body is validated as `{}` so that "field required" messages name the field.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? '';
  const text = await c.req.text();
  if (text.trim() === '' && type === '') return schema.parse({});
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new AppError('unsupported_media_type', 'Content-Type must be application/json', { status: 415 });
  }
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw new AppError('invalid_json', 'request body is not valid JSON', { status: 400 });
    }
  }
  return schema.parse(value);
}
