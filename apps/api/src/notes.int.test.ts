import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type NoteView = {
  id: string;
  title: string;
  body: string;
  tags: string[];
  version: number;
  external_id: string | null;
  index_status: string;
};

let t: TestApp;
let key: string;
let userId: string;
let otherKey: string;

beforeAll(async () => {
  t = await createTestApp('notes');
  const user = await t.createUser();
  key = user.api_key;
  userId = user.id;
  otherKey = (await t.createUser()).api_key;
});
afterAll(async () => {
  await t?.close();
});

function call(method: string, path: string, body?: unknown, as = key) {
  return t.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${as}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
}

async function indexJobs(): Promise<string[]> {
  const jobs = await t.indexQueue.queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
  return jobs.map((j) => j.id ?? '').sort();
}

describe('/v1/notes', () => {
  it('creates a note pending indexing, enqueues its indexing and raises the generation', async () => {
    const before = await t.generations.current(userId);
    const res = await call('POST', '/v1/notes', {
      title: 'Garden',
      body: 'Tomatoes need staking in June.',
      tags: ['home'],
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; version: number; index_status: string };
    expect(created).toEqual({
      id: expect.stringMatching(/^n_[0-9a-f]{32}$/),
      version: 1,
      index_status: 'pending',
    });
    expect(await indexJobs()).toContain(`idx-${created.id}-v1`);
    expect(await t.generations.current(userId)).toBe(before + 1);

    const note = (await (await call('GET', `/v1/notes/${created.id}`)).json()) as NoteView;
    expect(note).toMatchObject({
      title: 'Garden',
      body: 'Tomatoes need staking in June.',
      tags: ['home'],
      version: 1,
    });
  });

  it('bumps version and generation on PUT, PATCH and DELETE, and re-enqueues indexing', async () => {
    const { id } = (await (
      await call('POST', '/v1/notes', { title: 'Car', body: 'Oil change at 60k.' })
    ).json()) as {
      id: string;
    };
    const g0 = await t.generations.current(userId);
    const put = (await (
      await call('PUT', `/v1/notes/${id}`, { title: 'Car', body: 'Oil change at 65k.' })
    ).json()) as NoteView;
    expect(put).toMatchObject({ version: 2, index_status: 'pending', body: 'Oil change at 65k.', tags: [] });
    const patch = (await (await call('PATCH', `/v1/notes/${id}`, { tags: ['car'] })).json()) as NoteView;
    expect(patch).toMatchObject({ version: 3, body: 'Oil change at 65k.', tags: ['car'] });
    expect(await indexJobs()).toEqual(expect.arrayContaining([`idx-${id}-v2`, `idx-${id}-v3`]));
    expect(await t.generations.current(userId)).toBe(g0 + 2);

    expect((await call('DELETE', `/v1/notes/${id}`)).status).toBe(204);
    expect(await t.generations.current(userId)).toBe(g0 + 3);
    await expectError(await call('GET', `/v1/notes/${id}`), 404, 'not_found');
    await expectError(await call('DELETE', `/v1/notes/${id}`), 404, 'not_found');
  });

  it('lists only own notes, paginated by cursor without gaps or repeats', async () => {
    const batch = Array.from({ length: 7 }, (_, i) => ({ title: `Batch ${i}`, body: `Body ${i}` }));
    const res = await call('POST', '/v1/notes/batch', { notes: batch });
    expect(res.status).toBe(201);
    const created = ((await res.json()) as { data: { id: string }[] }).data;
    expect(created).toHaveLength(7);
    await call('POST', '/v1/notes', { title: 'Not yours', body: 'Secret' }, otherKey);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (
        await call('GET', `/v1/notes?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as {
        data: NoteView[];
        next_cursor: string | null;
      };
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.data.map((n) => n.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(created.map((n) => n.id)));
    const titles = await Promise.all(
      seen.map(async (id) => ((await (await call('GET', `/v1/notes/${id}`)).json()) as NoteView).title),
    );
    expect(titles).not.toContain('Not yours');
  });

  it("is 404 for another user's note on every route", async () => {
    const { id } = (await (await call('POST', '/v1/notes', { title: 'Mine', body: 'Private' })).json()) as {
      id: string;
    };
    await expectError(await call('GET', `/v1/notes/${id}`, undefined, otherKey), 404, 'not_found');
    await expectError(
      await call('PUT', `/v1/notes/${id}`, { title: 'x', body: 'y' }, otherKey),
      404,
      'not_found',
    );
    await expectError(await call('PATCH', `/v1/notes/${id}`, { title: 'x' }, otherKey), 404, 'not_found');
    await expectError(await call('DELETE', `/v1/notes/${id}`, undefined, otherKey), 404, 'not_found');
    expect((await call('GET', `/v1/notes/${id}`)).status).toBe(200);
  });

  it('upserts a batch by external_id: changed notes get a new version, unchanged ones touch nothing', async () => {
    type Result = { id: string; version: number; external_id: string | null; outcome: string };
    const batch = (notes: { title: string; body: string; external_id?: string }[]) =>
      call('POST', '/v1/notes/batch', { notes });
    const first = (await (
      await batch([
        { title: 'Roof', body: 'Fix the gutter.', external_id: 'home/roof.md' },
        { title: 'Bike', body: 'New chain.', external_id: 'bike.md' },
        { title: 'Loose', body: 'No external id.' },
      ])
    ).json()) as { data: Result[] };
    expect(first.data.map((n) => [n.external_id, n.outcome, n.version])).toEqual([
      ['home/roof.md', 'created', 1],
      ['bike.md', 'created', 1],
      [null, 'created', 1],
    ]);
    const generation = await t.generations.current(userId);
    const jobs = (await indexJobs()).length;

    const same = (await (
      await batch([
        { title: 'Roof', body: 'Fix the gutter.', external_id: 'home/roof.md' },
        { title: 'Bike', body: 'New chain.', external_id: 'bike.md' },
      ])
    ).json()) as { data: Result[] };
    expect(same.data.map((n) => [n.id, n.outcome, n.version])).toEqual([
      [first.data[0]!.id, 'unchanged', 1],
      [first.data[1]!.id, 'unchanged', 1],
    ]);
    expect(await t.generations.current(userId)).toBe(generation);
    expect((await indexJobs()).length).toBe(jobs);

    const changed = (await (
      await batch([
        { title: 'Bike', body: 'New chain and tyres.', external_id: 'bike.md' },
        { title: 'Roof', body: 'Fix the gutter.', external_id: 'home/roof.md' },
        { title: 'Boat', body: 'Varnish.', external_id: 'boat.md' },
      ])
    ).json()) as { data: Result[] };
    expect(changed.data.map((n) => [n.external_id, n.outcome, n.version])).toEqual([
      ['bike.md', 'updated', 2],
      ['home/roof.md', 'unchanged', 1],
      ['boat.md', 'created', 1],
    ]);
    expect(changed.data[0]!.id).toBe(first.data[1]!.id);
    expect(await t.generations.current(userId)).toBe(generation + 1);
    expect(await indexJobs()).toContain(`idx-${first.data[1]!.id}-v2`);
    const bike = (await (await call('GET', `/v1/notes/${first.data[1]!.id}`)).json()) as NoteView;
    expect(bike).toMatchObject({ body: 'New chain and tyres.', version: 2, external_id: 'bike.md' });
  });

  const bad: [string, () => Promise<Response> | Response, number, string][] = [
    [
      'a batch naming one external_id twice',
      () =>
        call('POST', '/v1/notes/batch', {
          notes: [
            { title: 'a', body: 'b', external_id: 'x.md' },
            { title: 'c', body: 'd', external_id: 'x.md' },
          ],
        }),
      400,
      'invalid_request',
    ],
    ['a missing body', () => call('POST', '/v1/notes', { title: 'x' }), 400, 'invalid_request'],
    ['an empty title', () => call('POST', '/v1/notes', { title: '  ', body: 'x' }), 400, 'invalid_request'],
    [
      'a title over 300 characters',
      () => call('POST', '/v1/notes', { title: 't'.repeat(301), body: 'x' }),
      400,
      'invalid_request',
    ],
    [
      'a body over 100 KB',
      () => call('POST', '/v1/notes', { title: 't', body: 'é'.repeat(51_300) }),
      400,
      'invalid_request',
    ],
    [
      'an oversized request',
      () => call('POST', '/v1/notes', { title: 't', body: 'x'.repeat(600_000) }),
      413,
      'payload_too_large',
    ],
    [
      'unknown fields',
      () => call('POST', '/v1/notes', { title: 't', body: 'b', color: 'red' }),
      400,
      'invalid_request',
    ],
    [
      'bad tags',
      () => call('POST', '/v1/notes', { title: 't', body: 'b', tags: [''] }),
      400,
      'invalid_request',
    ],
    [
      'an empty patch',
      () => call('PATCH', '/v1/notes/n_00000000000000000000000000000000', {}),
      400,
      'invalid_request',
    ],
    ['an empty batch', () => call('POST', '/v1/notes/batch', { notes: [] }), 400, 'invalid_request'],
    [
      'a batch over 100',
      () =>
        call('POST', '/v1/notes/batch', {
          notes: Array.from({ length: 101 }, () => ({ title: 't', body: 'b' })),
        }),
      400,
      'invalid_request',
    ],
    ['malformed JSON', () => call('POST', '/v1/notes', '{"title":'), 400, 'invalid_json'],
    ['a bad cursor', () => call('GET', '/v1/notes?cursor=garbage'), 400, 'invalid_request'],
    ['a bad limit', () => call('GET', '/v1/notes?limit=500'), 400, 'invalid_request'],
    ['no key', () => call('GET', '/v1/notes', undefined, ''), 401, 'unauthorized'],
  ];
  for (const [what, send, status, code] of bad) {
    it(`answers ${status} ${code} to ${what}, storing nothing`, async () => {
      const before = (await indexJobs()).length;
      await expectError(await send(), status, code);
      expect((await indexJobs()).length).toBe(before);
    });
  }
});
