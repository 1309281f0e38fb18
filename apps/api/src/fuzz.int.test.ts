import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMITS } from './json-body.ts';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

/*
 * Fuzz-style edges over every route, against a real `serve()` over the real app (real Redis and
 * Postgres) through raw sockets: each bad request must get a JSON 4xx with a stable code, and
 * the same socket must then answer a second request (keep-alive survives the error).
 */

type RawResponse = { status: number; headers: Record<string, string>; body: Buffer };

/** One raw HTTP/1.1 connection that reads `Content-Length` responses in order. */
async function openConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffer = Buffer.alloc(0);
  let closed = false;
  let waiter: (() => void) | undefined;
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    waiter?.();
  });
  // The server may answer (and close) while a huge body is still being written: EPIPE is fine.
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    waiter?.();
  });

  function tryParse(): RawResponse | undefined {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (headers['transfer-encoding']) throw new Error(`unexpected chunked response: ${statusLine}`);
    const length = Number(headers['content-length'] ?? 0);
    if (buffer.length < end + 4 + length) return undefined;
    const body = buffer.subarray(end + 4, end + 4 + length);
    buffer = buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }

  return {
    get closed() {
      return closed;
    },
    /** Writes raw bytes and resolves with the next whole response (rejects on close or after 10 s). */
    request(bytes: Buffer): Promise<RawResponse> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error('no response within 10 s')), 10_000);
        function done(error?: Error, response?: RawResponse) {
          clearTimeout(timer);
          waiter = undefined;
          if (error) reject(error);
          else resolve(response!);
        }
        waiter = () => {
          try {
            const response = tryParse();
            if (response) done(undefined, response);
            else if (closed) done(new Error('connection closed before a whole response'));
          } catch (error) {
            done(error as Error);
          }
        };
        if (!closed) socket.write(bytes);
        waiter();
      });
    },
    destroy() {
      socket.destroy();
    },
  };
}

type Case = {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  status: number;
  code: string;
};

/** Paths name the fixtures as `{note}`, `{query}`, `{user}`: cases are listed before they exist. */
function resolve(path: string): string {
  return path.replace('{note}', noteId).replace('{query}', queryId).replace('{user}', userId);
}

function encodeRequest(c: Case, auth: string | undefined): Buffer {
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : (c.body ?? Buffer.alloc(0));
  const headers: Record<string, string> = { host: 'localhost', ...(auth ? { authorization: auth } : {}) };
  Object.assign(headers, c.headers);
  if (c.chunked) headers['transfer-encoding'] = 'chunked';
  else if (c.body !== undefined) headers['content-length'] = String(body.length);
  const head = Buffer.from(
    `${c.method} ${resolve(c.path)} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
    'latin1',
  );
  if (!c.chunked) return Buffer.concat([head, body]);
  const parts: Buffer[] = [head];
  for (let i = 0; i < body.length; i += 64 * 1024) {
    const chunk = body.subarray(i, i + 64 * 1024);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

let t: Awaited<ReturnType<typeof createTestApp>>;
let server: ServerType;
let port: number;
let userAuth: string;
let queryId: string;
let noteId: string;
let userId: string;
const adminAuth = `Bearer ${ADMIN_TOKEN}`;

beforeAll(async () => {
  t = await createTestApp('fuzz');
  const user = await t.createUser('internal');
  userId = user.id;
  userAuth = `Bearer ${user.api_key}`;
  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
  const headers = { authorization: userAuth, 'content-type': 'application/json' };
  const query = await t.app.request('/v1/queries', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: 'what is in my notes?' }),
  });
  queryId = ((await query.json()) as { id: string }).id;
  const note = await t.app.request('/v1/notes', {
    method: 'POST',
    headers,
    body: JSON.stringify({ title: 't', body: 'b' }),
  });
  noteId = ((await note.json()) as { id: string }).id;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await t?.close();
});

/**
 * Every route that reads a JSON body, with its auth, its body limit and a valid body around one
 * string, so that a bad string is the only thing wrong with the request.
 */
function bodyRoutes() {
  const note = (text: string) => ({ title: text, body: 'b' });
  return [
    {
      method: 'POST',
      path: '/v1/queries',
      admin: false,
      limit: BODY_LIMITS.default,
      around: (text: string) => ({ query: text }),
    },
    { method: 'POST', path: '/v1/notes', admin: false, limit: BODY_LIMITS.note, around: note },
    {
      method: 'POST',
      path: '/v1/notes/batch',
      admin: false,
      limit: BODY_LIMITS.noteBatch,
      around: (text: string) => ({ notes: [note(text)] }),
    },
    { method: 'PUT', path: '/v1/notes/{note}', admin: false, limit: BODY_LIMITS.note, around: note },
    {
      method: 'PATCH',
      path: '/v1/notes/{note}',
      admin: false,
      limit: BODY_LIMITS.note,
      around: (text: string) => ({ tags: [text] }),
    },
    {
      method: 'POST',
      path: '/v1/admin/users',
      admin: true,
      limit: BODY_LIMITS.default,
      around: (text: string) => ({ email: `a${text}@example.com` }),
    },
    {
      method: 'PATCH',
      path: '/v1/admin/users/{user}',
      admin: true,
      limit: BODY_LIMITS.default,
      around: (text: string) => ({ tier: text }),
    },
    {
      method: 'POST',
      path: '/v1/admin/cache/purge',
      admin: true,
      limit: BODY_LIMITS.default,
      around: (text: string) => ({ scope: 'user', user_id: text }),
    },
  ];
}

/** Every route, with its auth. */
function allRoutes() {
  return [
    ...bodyRoutes().map(({ method, path, admin }) => ({ method, path, admin })),
    { method: 'GET', path: '/v1/queries/{query}', admin: false },
    { method: 'GET', path: '/v1/queries/{query}/events', admin: false },
    { method: 'GET', path: '/v1/notes', admin: false },
    { method: 'GET', path: '/v1/notes/{note}', admin: false },
    { method: 'DELETE', path: '/v1/notes/{note}', admin: false },
    { method: 'GET', path: '/v1/usage', admin: false },
    { method: 'GET', path: '/v1/admin/usage', admin: true },
    { method: 'POST', path: '/v1/admin/users/{user}/keys', admin: true },
    { method: 'GET', path: '/v1/admin/users/{user}/keys', admin: true },
    { method: 'DELETE', path: '/v1/admin/keys/00000000-0000-4000-8000-000000000000', admin: true },
  ];
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const JSON_TYPE = { 'content-type': 'application/json' };

function bodyCases(): (Case & { admin: boolean })[] {
  const cases: (Case & { admin: boolean })[] = [];
  for (const route of bodyRoutes()) {
    const add = (name: string, c: Omit<Case, 'name' | 'method' | 'path'>) =>
      cases.push({ name: `${route.method} ${route.path}: ${name}`, ...route, ...c });
    /** A valid body whose one string carries `bytes` (raw, not JSON-escaped). */
    const withRawBytes = (bytes: number[]) => {
      const [before = '', after = ''] = JSON.stringify(route.around('@@')).split('@@');
      return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
    };
    const tooBig = route.limit + 512 * 1024; // well past socket and stream buffers
    add('malformed JSON', { headers: JSON_TYPE, body: '{"query": ', status: 400, code: 'invalid_json' });
    add('a JSON array', { headers: JSON_TYPE, body: '[1,2]', status: 400, code: 'invalid_request' });
    add('wrong field types', {
      headers: JSON_TYPE,
      body: json({ query: 5, title: 5, body: [], tags: 'x', notes: {}, tier: 7, limits: 'x', scope: 1 }),
      status: 400,
      code: 'invalid_request',
    });
    add('a body of NUL bytes', {
      headers: JSON_TYPE,
      body: Buffer.alloc(32),
      status: 400,
      code: 'invalid_json',
    });
    add('an escaped NUL in a string', {
      headers: JSON_TYPE,
      body: json(route.around('a\u0000b')),
      status: 400,
      code: 'invalid_request',
    });
    // JSON.stringify writes a lone surrogate as the escape `\ud800`, as a fuzzer sends it.
    add('a lone high surrogate', {
      headers: JSON_TYPE,
      body: json(route.around('x\ud800')),
      status: 400,
      code: 'invalid_request',
    });
    add('a lone low surrogate', {
      headers: JSON_TYPE,
      body: json(route.around('\udc00x')),
      status: 400,
      code: 'invalid_request',
    });
    add('invalid UTF-8', {
      headers: JSON_TYPE,
      body: withRawBytes([0xff, 0xfe, 0xc3]),
      status: 400,
      code: 'invalid_json',
    });
    add('a UTF-8-encoded surrogate (CESU-8)', {
      headers: JSON_TYPE,
      body: withRawBytes([0xed, 0xa0, 0x80]),
      status: 400,
      code: 'invalid_json',
    });
    add('text/plain', {
      headers: { 'content-type': 'text/plain' },
      body: json(route.around('hi')),
      status: 415,
      code: 'unsupported_media_type',
    });
    add('form-encoded', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=hello',
      status: 415,
      code: 'unsupported_media_type',
    });
    add('multipart', {
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\nhello\r\n--x--\r\n',
      status: 415,
      code: 'unsupported_media_type',
    });
    add('a UTF-16 charset', {
      headers: { 'content-type': 'application/json; charset=utf-16' },
      body: Buffer.from(JSON.stringify(route.around('hello')), 'utf16le'),
      status: 415,
      code: 'unsupported_media_type',
    });
    add('no content type with a body', {
      body: json(route.around('hi')),
      status: 415,
      code: 'unsupported_media_type',
    });
    add('a text/plain body over the limit', {
      headers: { 'content-type': 'text/plain' },
      body: Buffer.alloc(tooBig, 0x61),
      status: 413,
      code: 'payload_too_large',
    });
    add('a body over the limit (Content-Length)', {
      headers: JSON_TYPE,
      body: Buffer.alloc(tooBig, 0x20),
      status: 413,
      code: 'payload_too_large',
    });
    add('a body over the limit (chunked)', {
      headers: JSON_TYPE,
      body: Buffer.alloc(tooBig, 0x20),
      chunked: true,
      status: 413,
      code: 'payload_too_large',
    });
  }
  return cases;
}

function parameterCases(): (Case & { admin: boolean })[] {
  const cursor = (text: string) => Buffer.from(text).toString('base64url');
  const note = (id: string) => ({
    method: 'GET',
    path: `/v1/notes/${id}`,
    admin: false,
    status: 404,
    code: 'not_found',
  });
  const usage = (qs: string) => [
    { method: 'GET', path: `/v1/usage?${qs}`, admin: false, status: 400, code: 'invalid_request' },
    { method: 'GET', path: `/v1/admin/usage?${qs}`, admin: true, status: 400, code: 'invalid_request' },
  ];
  const list = (qs: string) => ({
    method: 'GET',
    path: `/v1/notes?${qs}`,
    admin: false,
    status: 400,
    code: 'invalid_request',
  });
  const events = (headers: Record<string, string>, qs = '') => ({
    method: 'GET',
    path: `/v1/queries/{query}/events${qs}`,
    admin: false,
    headers,
    status: 400,
    code: 'invalid_request',
  });
  const submit = (key: string) => ({
    method: 'POST',
    path: '/v1/queries',
    admin: false,
    headers: { ...JSON_TYPE, 'idempotency-key': key },
    body: json({ query: 'hello' }),
    status: 400,
    code: 'invalid_request',
  });
  const rows: (Omit<Case, 'name'> & { admin: boolean })[] = [
    note('n_zz'),
    note('%00'),
    note(`n_${'0'.repeat(31)}%00`),
    note('x'.repeat(2000)),
    note('%C3%A9'),
    { method: 'DELETE', path: '/v1/notes/%00', admin: false, status: 404, code: 'not_found' },
    { method: 'GET', path: '/v1/queries/q_%00', admin: false, status: 404, code: 'not_found' },
    { method: 'GET', path: '/v1/queries/%ff/events', admin: false, status: 404, code: 'not_found' },
    {
      method: 'GET',
      path: `/v1/queries/{query}?wait=abc`,
      admin: false,
      status: 400,
      code: 'invalid_request',
    },
    {
      method: 'GET',
      path: `/v1/queries/{query}?wait=-1`,
      admin: false,
      status: 400,
      code: 'invalid_request',
    },
    ...['%00', 'not-a-uuid', `{user}%00`, '%E0%A4%A'].map((id) => ({
      method: 'PATCH',
      path: `/v1/admin/users/${id}`,
      admin: true,
      headers: JSON_TYPE,
      body: json({ tier: 'premium' }),
      status: 400,
      code: 'invalid_request',
    })),
    ...['%00', 'not-a-uuid', `{user}%00`, '%E0%A4%A'].flatMap((id) => [
      {
        method: 'POST',
        path: `/v1/admin/users/${id}/keys`,
        admin: true,
        status: 400,
        code: 'invalid_request',
      },
      {
        method: 'GET',
        path: `/v1/admin/users/${id}/keys`,
        admin: true,
        status: 400,
        code: 'invalid_request',
      },
      { method: 'DELETE', path: `/v1/admin/keys/${id}`, admin: true, status: 400, code: 'invalid_request' },
    ]),
    list(`cursor=${cursor('+275760-09-13T00:00:00.000Z|n_00000000000000000000000000000000')}`),
    list(`cursor=${cursor('2024-13-45T00:00:00.000Z|n_00000000000000000000000000000000')}`),
    list(`cursor=${cursor('0000-01-01T00:00:00.000Z|n_00000000000000000000000000000000')}`),
    list(`cursor=${cursor('2024-01-01T00:00:00.000Z|\u0000')}`),
    list(`cursor=${cursor('garbage')}`),
    list('cursor=%00'),
    list('cursor=!!!'),
    list(`cursor=${'A'.repeat(500)}`),
    list('limit=abc'),
    list('limit=0'),
    list('limit=1e309'),
    ...usage('from=2024-13-45'),
    ...usage('from=2024-02-30'),
    ...usage('from=0000-00-00'),
    ...usage('to=2024-99-99'),
    ...usage('from=2024-01-10&to=2024-01-01'),
    ...usage('from=%00'),
    ...usage('from=2024-1-1'),
    ...usage('to=99999-01-01'),
    events({ 'last-event-id': '99999999999999999999-0' }),
    events({ 'last-event-id': '0-18446744073709551616' }),
    events({ 'last-event-id': 'abc' }),
    events({ 'last-event-id': '1-2-3' }),
    events({}, '?last_event_id=99999999999999999999-0'),
    events({}, '?last_event_id=%00'),
    submit('has space'),
    submit('x'.repeat(256)),
    submit('\xe9t\xe9'),
  ];
  return rows.map((row) => ({
    name: `${row.method} ${row.path.slice(0, 80)} ${JSON.stringify(row.headers ?? {})}`,
    ...row,
  }));
}

function authCases(): (Case & { auth: string | undefined })[] {
  const bad: [string, string | undefined][] = [
    ['no Authorization', undefined],
    ['a Basic scheme', 'Basic dXNlcjpwYXNz'],
    ['Bearer without a token', 'Bearer'],
    ['two tokens', 'Bearer a b'],
    ['an unknown key', 'Bearer sk_unknown'],
    ['a latin-1 token', 'Bearer \xe9\xe9'],
  ];
  return allRoutes().flatMap((route) =>
    bad.map(([name, auth]) => ({
      name: `${route.method} ${route.path}: ${name}`,
      method: route.method,
      path: route.path,
      auth,
      headers: JSON_TYPE,
      body: '{}',
      status: 401,
      code: 'unauthorized',
    })),
  );
}

function unknownRouteCases(): (Case & { auth: string | undefined })[] {
  return [
    { method: 'GET', path: '/nope', status: 404 },
    { method: 'POST', path: '/v1/nope', body: '{"a":1}', headers: JSON_TYPE, status: 404 },
    { method: 'DELETE', path: '/v1/queries', status: 404 },
    { method: 'POST', path: '/healthz', body: Buffer.alloc(200 * 1024), status: 404 },
    { method: 'PUT', path: '/v1/usage', body: '{}', headers: JSON_TYPE, status: 404 },
  ].map((c) => ({ name: `${c.method} ${c.path}`, auth: 'user', code: 'not_found', ...c }));
}

/** Sends one bad request, checks its JSON error, then checks the socket still serves a request. */
async function expectErrorThenReuse(c: Case, auth: string | undefined) {
  const connection = await openConnection(port);
  try {
    const res = await connection.request(encodeRequest(c, auth === 'user' ? userAuth : auth));
    const text = res.body.toString('utf8');
    expect({ status: res.status, text }).toMatchObject({ status: c.status });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(text) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe(c.code);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(body.error.request_id).toBe(res.headers['x-request-id']);
    expect(res.headers.connection).not.toBe('close');
    const next = await connection.request(Buffer.from('GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n'));
    expect(next.status).toBe(200);
  } finally {
    connection.destroy();
  }
}

describe('every route answers bad input with a JSON 4xx and keeps the connection', () => {
  it.each(bodyCases().map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await expectErrorThenReuse(c, c.admin ? adminAuth : 'user');
  });

  it.each(parameterCases().map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await expectErrorThenReuse(c, c.admin ? adminAuth : 'user');
  });

  it.each(authCases().map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await expectErrorThenReuse(c, c.auth);
  });

  it.each(unknownRouteCases().map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await expectErrorThenReuse(c, c.auth);
  });

  it('answers a body far over the limit with 413 and Connection: close, not a reset', async () => {
    const connection = await openConnection(port);
    try {
      const res = await connection.request(
        encodeRequest(
          {
            name: 'huge',
            method: 'POST',
            path: '/v1/queries',
            headers: JSON_TYPE,
            body: Buffer.alloc(BODY_LIMITS.default + 8 * 1024 * 1024, 0x20),
            status: 413,
            code: 'payload_too_large',
          },
          userAuth,
        ),
      );
      expect(res.status).toBe(413);
      expect(res.headers.connection).toBe('close');
      expect((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code).toBe(
        'payload_too_large',
      );
    } finally {
      connection.destroy();
    }
  });
  it('finishes a request whose body the client cut short (half-closed mid-body) as a 400, never a 5xx', async () => {
    const metrics = async () => (await t.app.request('/metrics')).text();
    const errorsIn = (text: string) =>
      [...text.matchAll(/^assistant_errors_total\{type="[^"]+"\} (\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    const submits400In = (text: string) =>
      Number(
        /^assistant_http_request_duration_seconds_count\{[^}]*route="\/v1\/queries"[^}]*status="400"[^}]*\} (\d+)/m.exec(
          text,
        )?.[1] ?? 0,
      );
    const before = await metrics();
    const status = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(
          `POST /v1/queries HTTP/1.1\r\nhost: localhost\r\nauthorization: ${userAuth}\r\n` +
            'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"query":"cut sh',
        );
        setTimeout(() => socket.end(), 50);
      });
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1');
      });
      socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
    });
    expect(status).toMatch(/^HTTP\/1\.1 400 /);
    // The handler itself ended (it does not wait forever on a body that will not come), as the
    // client's error: one more 400 on the route, nothing counted as a server error.
    await expect
      .poll(async () => submits400In(await metrics()), { timeout: 2_000 })
      .toBe(submits400In(before) + 1);
    expect(errorsIn(await metrics())).toBe(errorsIn(before));
  });
});
