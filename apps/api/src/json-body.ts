import type { IncomingMessage } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from './app-env.ts';
import { AppError } from './app-error.ts';

/** Largest request body, by route: questions are small; a note may carry 100 KB of text. */
export const BODY_LIMITS = {
  default: 64 * 1024,
  note: 512 * 1024,
  noteBatch: 8 * 1024 * 1024,
} as const;

/**
 * Bytes past a limit we still read (and discard) so the connection stays usable for the next
 * request. Beyond this the answer says `Connection: close`: draining more would cost more than
 * a reconnect.
 */
const MAX_DRAIN_BYTES = 4 * 1024 * 1024;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function tooLarge(maxBytes: number, closeConnection: boolean): AppError {
  return new AppError('payload_too_large', `request body exceeds ${maxBytes} bytes`, {
    status: 413,
    ...(closeConnection ? { headers: { Connection: 'close' } } : {}),
  });
}

/** The client closed or reset the connection before its body ended: its fault, not ours (no 5xx). */
function endedEarly(cause: unknown): AppError {
  return new AppError('invalid_request', 'the request body ended before it was complete', {
    status: 400,
    cause,
  });
}

function unsupportedType(message: string): AppError {
  return new AppError('unsupported_media_type', message, { status: 415 });
}

/**
 * Sets the body limit of a path and refuses a declared `Content-Length` over it before any
 * other work. The body is left untouched then: `@hono/node-server` drains an unread body after
 * the response, so the connection stays alive.
 */
export function limitBody(limitOf: (path: string) => number): MiddlewareHandler<AppEnv> {
  return async function limitBody(c, next) {
    const maxBytes = limitOf(c.req.path);
    c.set('maxBodyBytes', maxBytes);
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > maxBytes) throw tooLarge(maxBytes, declared - maxBytes > MAX_DRAIN_BYTES);
    await next();
  };
}

/**
 * Reads the whole body up to `maxBytes`. Past the limit it keeps reading (discarding) up to
 * {@link MAX_DRAIN_BYTES}, so the connection stays usable; beyond that the answer closes it.
 * Under `@hono/node-server` it reads the Node request itself (`c.env.incoming`): the web
 * stream `c.req.raw.body` would build a Request and a stream adapter first (about 90 µs of CPU
 * per request, a tenth of a cache hit's).
 */
function readBytes(c: Context, maxBytes: number): Promise<Uint8Array> {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  return incoming ? readNodeBody(incoming, maxBytes) : readWebBody(c.req.raw.body, maxBytes);
}

/**
 * The Node request's body. Past {@link MAX_DRAIN_BYTES} it stops listening and pauses the
 * request (never destroys it: that would reset the socket before the 413 is written).
 */
function readNodeBody(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    function onData(chunk: Buffer) {
      size += chunk.byteLength;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size - maxBytes > MAX_DRAIN_BYTES) {
        stop();
        incoming.pause();
        reject(tooLarge(maxBytes, true));
      }
    }
    function onEnd() {
      stop();
      if (size > maxBytes) reject(tooLarge(maxBytes, false));
      else resolve(Buffer.concat(chunks, size));
    }
    // An error (`aborted`) or a close before the end: the client went away mid-body.
    function onError(error: Error) {
      stop();
      reject(endedEarly(error));
    }
    function onClose() {
      stop();
      reject(endedEarly(undefined));
    }
    if (incoming.readableEnded) {
      resolve(new Uint8Array(0));
      return;
    }
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** The same over a web stream (the test client's `app.request`, other runtimes). */
async function readWebBody(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read().catch((error: unknown) => {
      throw endedEarly(error);
    });
    if (done) break;
    size += value.byteLength;
    if (size <= maxBytes) chunks.push(value);
    else if (size - maxBytes > MAX_DRAIN_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes, true);
    }
  }
  if (size > maxBytes) throw tooLarge(maxBytes, false);
  return Buffer.concat(chunks, size);
}

/** The first string (value or key) that Postgres or a UTF-8 encoder would refuse, by path. */
function badString(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof value === 'string') {
    return value.includes('\u0000') || LONE_SURROGATE.test(value) ? path : undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const bad = badString(item, [...path, i]);
      if (bad) return bad;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const bad = badString(key, [...path, key]) ?? badString(item, [...path, key]);
      if (bad) return bad;
    }
  }
  return undefined;
}

/**
 * The one reader of request bodies: JSON in UTF-8, within the route's limit, validated.
 * Wrong content type or a non-UTF-8 charset → 415 `unsupported_media_type`; too large → 413
 * `payload_too_large`; bytes that are not UTF-8, or not JSON → 400 `invalid_json`; strings with
 * NUL or unpaired surrogates (Postgres refuses the first, encoders mangle the second) → 400
 * `invalid_request`; schema violations → 400 `invalid_request` (via the ZodError in onError).
 * An empty body is validated as `{}` so that "field required" messages name the field.
 */
export async function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  const [type = '', ...params] = (c.req.header('content-type') ?? '').split(';').map((p) => p.trim());
  const declared = c.req.header('content-length');
  const hasBody =
    c.req.header('transfer-encoding') !== undefined || (declared !== undefined && declared !== '0');
  if (type === '' && !hasBody) return schema.parse({});
  // Refused before reading: the server drains the unread body and keeps the connection.
  if (!JSON_TYPE.test(type)) throw unsupportedType('Content-Type must be application/json');
  const charset = params
    .find((p) => /^charset=/i.test(p))
    ?.slice('charset='.length)
    .replace(/^"|"$/g, '');
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw unsupportedType('request bodies must be UTF-8 (charset=utf-8)');
  }
  const bytes = await readBytes(c, c.get('maxBodyBytes') ?? BODY_LIMITS.default);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AppError('invalid_json', 'request body is not valid UTF-8', { status: 400 });
  }
  if (text.trim() === '') return schema.parse({});
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('invalid_json', 'request body is not valid JSON', { status: 400 });
  }
  const bad = badString(value);
  if (bad) {
    const where = bad.length ? `${bad.join('.')}: ` : '';
    throw new AppError(
      'invalid_request',
      `${where}text must not contain NUL characters or unpaired surrogates`,
      {
        status: 400,
        details: [{ path: bad.join('.'), message: 'NUL character or unpaired surrogate' }],
      },
    );
  }
  return schema.parse(value);
}
