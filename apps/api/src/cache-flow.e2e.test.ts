import { createAnswerQueue, createKeys } from '@assistant/queue';
import { readSse, STACK_ADMIN_TOKEN, type Stack, startStack, waitUntil } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Caching end to end: a real API process and a real worker process (real ONNX model) on real
// Redis and Postgres, answering with the offline extractive provider, so every answer quotes the
// user's notes and an edit shows in the next answer. The tests run in order and share state.
let stack: Stack;
let sql: postgres.Sql;
let answerQueue: ReturnType<typeof createAnswerQueue>;
type User = { id: string; api_key: string };
let alice: User;
let bob: User;
let carol: User; // no notes at all
let aliceIds: Record<'wifi' | 'dentist' | 'sourdough' | 'passport', string>;
let bobIds: string[];

type Source = { note_id: string; title: string; text: string };
type View = {
  id: string;
  status: string;
  query: string;
  answer: string | null;
  sources: Source[];
  model: string | null;
  cached: boolean;
  quality: { score: number } | null;
};
type Asked = { status: number; view: View };

const WIFI_QUESTION = 'What is my wifi password?';

function call(
  user: User,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(`${stack.api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${user.api_key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Submits a question; a 202 is followed (long poll) to its final view, a 200 is returned as is. */
async function ask(user: User, query: string, headers: Record<string, string> = {}): Promise<Asked> {
  const res = await call(user, 'POST', '/v1/queries', { query }, headers);
  if (res.status === 200) return { status: 200, view: (await res.json()) as View };
  expect(res.status, await res.clone().text()).toBe(202);
  const { links } = (await res.json()) as { links: { self: string } };
  const view = (await (await call(user, 'GET', `${links.self}?wait=25`)).json()) as View;
  expect(view.status).toBe('succeeded');
  return { status: 202, view };
}

/** Every job the answer queue holds, whatever its state (finished jobs are kept for a day). */
async function answerJobs(): Promise<number> {
  const counts = await answerQueue.queue.getJobCounts(
    'waiting',
    'active',
    'delayed',
    'completed',
    'failed',
    'prioritized',
    'waiting-children',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function queryRows(user: User): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from queries where user_id = ${user.id}`;
  return row!.n;
}

async function addNotes(user: User, notes: { title: string; body: string }[]): Promise<string[]> {
  const res = await call(user, 'POST', '/v1/notes/batch', { notes });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { id: string }[] }).data.map((n) => n.id);
}

function waitIndexed(user: User, id: string, version: number) {
  return waitUntil(
    async () => {
      const note = (await (await call(user, 'GET', `/v1/notes/${id}`)).json()) as {
        version: number;
        index_status: string;
      };
      if (note.index_status === 'failed') throw new Error(`indexing of ${id} failed`);
      return note.version === version && note.index_status === 'indexed';
    },
    { what: `note ${id} indexed at version ${version}` },
  );
}

function purge(body: unknown) {
  return fetch(`${stack.api.url}/v1/admin/cache/purge`, {
    method: 'POST',
    headers: { authorization: `Bearer ${STACK_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Reads a query's event stream to its end: the tokens as streamed and the `done` answer. */
async function streamOf(user: User, id: string): Promise<{ tokens: string; answer: string | undefined }> {
  let tokens = '';
  let answer: string | undefined;
  const res = await call(user, 'GET', `/v1/queries/${id}/events`);
  expect(res.status).toBe(200);
  await readSse(res.body!, (event) => {
    const payload = JSON.parse(event.data) as { text?: string; result?: { answer: string } };
    if (event.event === 'restart') tokens = '';
    if (event.event === 'token') tokens += payload.text ?? '';
    if (event.event === 'done') answer = payload.result?.answer;
    return event.event === 'done' || event.event === 'error' ? 'stop' : undefined;
  });
  return { tokens, answer };
}

beforeAll(async () => {
  stack = await startStack('cache-e2e', { LLM_PROVIDER: 'extractive', SSE_HEARTBEAT_MS: '500' });
  sql = postgres(stack.database.url, { max: 2, onnotice: () => {} });
  answerQueue = createAnswerQueue(stack.redis.redis, createKeys(stack.redis.prefix), {
    attempts: 1,
    backoffMs: 100,
    retentionSeconds: 600,
  });
  // Internal tier: this file asks far more than a free user may per minute.
  [alice, bob, carol] = await Promise.all([
    stack.createUser('internal'),
    stack.createUser('internal'),
    stack.createUser('internal'),
  ]);
  const [a, b] = await Promise.all([
    addNotes(alice, [
      {
        title: 'Wifi',
        body: 'The home wifi password is maple-sunrise-42. The router sits in the hallway cupboard.',
      },
      { title: 'Dentist', body: 'Dr. Okafor moved my cleaning appointment to Thursday the 14th at 9:30.' },
      {
        title: 'Sourdough starter',
        body: 'Feed the sourdough starter twice a day with equal weights of rye flour and water.',
      },
      { title: 'Passport', body: 'My passport is valid until March 2029. Renewal takes about six weeks.' },
    ]),
    addNotes(bob, [
      { title: 'Wifi', body: 'The office wifi password is granite-owl-7. Guests use the lobby network.' },
    ]),
  ]);
  aliceIds = { wifi: a[0]!, dentist: a[1]!, sourdough: a[2]!, passport: a[3]! };
  bobIds = b;
  await Promise.all([...a.map((id) => waitIndexed(alice, id, 1)), ...b.map((id) => waitIndexed(bob, id, 1))]);
}, 120_000);

afterAll(async () => {
  await answerQueue?.close();
  await sql?.end();
  await stack?.stop();
});

let first: View;

describe('exact answer cache', () => {
  it('answers the same question again with 200 cached: true, the same answer, and no new job', async () => {
    const asked = await ask(alice, WIFI_QUESTION);
    expect(asked.status).toBe(202);
    first = asked.view;
    expect(first.cached).toBe(false);
    expect(first.answer).toContain('maple-sunrise-42');
    expect(first.sources[0]?.note_id).toBe(aliceIds.wifi);

    const jobs = await answerJobs();
    const rows = await queryRows(alice);
    const res = await call(alice, 'POST', '/v1/queries', { query: WIFI_QUESTION });
    expect(res.status).toBe(200);
    const hit = (await res.json()) as View;
    expect(hit).toMatchObject({
      status: 'succeeded',
      cached: true,
      answer: first.answer,
      model: first.model,
    });
    expect(hit.sources).toEqual(first.sources);
    // The hit keeps the quality score of the answer it reuses.
    expect(first.quality?.score).toBeGreaterThan(0);
    expect(hit.quality).toEqual(first.quality);
    expect(hit.id).not.toBe(first.id);
    expect(await answerJobs()).toBe(jobs);
    // Readable at once, stored shortly after (written behind, in a batch), with no new job.
    const read = await call(alice, 'GET', `/v1/queries/${hit.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({
      id: hit.id,
      status: 'succeeded',
      cached: true,
      answer: first.answer,
    });
    await waitUntil(async () => (await queryRows(alice)) === rows + 1, {
      what: 'the hit stored in Postgres',
    });
  });

  it('still hits when only case, whitespace or trailing punctuation differ', async () => {
    const jobs = await answerJobs();
    for (const variant of [
      '  what is my WIFI   password',
      'What is my wifi password',
      'WHAT IS MY WIFI PASSWORD?!',
    ]) {
      const res = await call(alice, 'POST', '/v1/queries', { query: variant });
      expect(res.status, variant).toBe(200);
      expect((await res.json()) as View).toMatchObject({ cached: true, answer: first.answer });
    }
    expect(await answerJobs()).toBe(jobs);
  });

  it('bypasses every cache for Cache-Control: no-store: 202, a job, and a freshly generated answer', async () => {
    const jobs = await answerJobs();
    const asked = await ask(alice, WIFI_QUESTION, { 'cache-control': 'no-store' });
    expect(asked.status).toBe(202);
    expect(await answerJobs()).toBe(jobs + 1);
    expect(asked.view.answer).toContain('maple-sunrise-42');
    // The client asked for no cached answer: the worker's semantic cache must not serve one either.
    expect(asked.view.cached).toBe(false);
  });

  it("never gives another user the first user's answer", async () => {
    const bobs = await ask(bob, WIFI_QUESTION);
    expect(bobs.status).toBe(202);
    expect(bobs.view.cached).toBe(false);
    expect(bobs.view.answer).toContain('granite-owl-7');
    expect(bobs.view.answer).not.toContain('maple-sunrise-42');
    for (const source of bobs.view.sources) expect(bobIds).toContain(source.note_id);
    // Bob's repeat hits Bob's own entry.
    const again = await ask(bob, WIFI_QUESTION);
    expect(again).toMatchObject({ status: 200, view: { cached: true, answer: bobs.view.answer } });

    const carols = await ask(carol, WIFI_QUESTION);
    expect(carols.status).toBe(202);
    expect(carols.view.cached).toBe(false);
    expect(carols.view.sources).toEqual([]);
    expect(carols.view.answer).not.toContain('maple-sunrise-42');
    expect(carols.view.answer).not.toContain('granite-owl-7');
  });
});

describe('semantic answer cache', () => {
  it('answers a close paraphrase from the semantic cache', async () => {
    const jobs = await answerJobs();
    const paraphrase = await ask(alice, "what's my wifi password");
    expect(paraphrase.status).toBe(202); // not the same normalized text: the exact cache misses
    expect(await answerJobs()).toBe(jobs + 1);
    expect(paraphrase.view.cached).toBe(true);
    expect(paraphrase.view.answer).toBe(first.answer);
  });

  it('does not reuse an answer for a negation, another day, another number or another name', async () => {
    const pairs: [string, string[]][] = [
      [
        'Is my dentist appointment on Thursday?',
        ['Is my dentist appointment not on Thursday?', 'Is my dentist appointment on Friday?'],
      ],
      ['Is my dentist appointment on the 14th?', ['Is my dentist appointment on the 15th?']],
      ['When is my appointment with Dr. Okafor?', ['When is my appointment with Dr. Mendes?']],
    ];
    for (const [base, nearMisses] of pairs) {
      const asked = await ask(alice, base);
      expect(asked.view.cached, base).toBe(false);
      // The paraphrase control: without "my", the same question does reuse the answer.
      const control = await ask(alice, base.replace(' my ', ' the '));
      expect(control.view.cached, `control of ${base}`).toBe(true);
      for (const nearMiss of nearMisses) {
        const missed = await ask(alice, nearMiss);
        expect(missed.status, nearMiss).toBe(202);
        expect(missed.view.cached, nearMiss).toBe(false);
      }
    }
  });
});

describe('invalidation', () => {
  const sourdough = 'How often should I feed the sourdough starter?';

  it('misses after an admin purge of everything, of the user, and of the tier; not after purging someone else', async () => {
    expect((await ask(alice, sourdough)).view.cached).toBe(false);
    expect((await ask(alice, sourdough)).status).toBe(200);

    for (const scope of [
      { scope: 'all' },
      { scope: 'user', user_id: alice.id },
      { scope: 'tier', tier: 'internal' },
    ]) {
      const res = await purge(scope);
      expect(res.status, JSON.stringify(scope)).toBe(200);
      const after = await ask(alice, sourdough);
      expect(after.status, JSON.stringify(scope)).toBe(202);
      expect(after.view.cached, JSON.stringify(scope)).toBe(false); // the semantic cache is purged too
      expect(after.view.answer).toContain('rye flour');
      expect((await ask(alice, sourdough)).status).toBe(200); // and it fills again
    }

    expect((await purge({ scope: 'user', user_id: bob.id })).status).toBe(200);
    expect((await ask(alice, sourdough)).status).toBe(200);
  });

  it('misses after a cited note is edited, and the new answer quotes the edit', async () => {
    // The purges above emptied the cache: fill it again, and see it hit.
    await ask(alice, WIFI_QUESTION);
    const before = await ask(alice, WIFI_QUESTION);
    expect(before).toMatchObject({ status: 200, view: { cached: true } });
    expect(before.view.answer).toContain('maple-sunrise-42');
    const res = await call(alice, 'PUT', `/v1/notes/${aliceIds.wifi}`, {
      title: 'Wifi',
      body: 'The home wifi password changed to cedar-lantern-88. The router sits in the hallway cupboard.',
    });
    expect(res.status).toBe(200);
    await waitIndexed(alice, aliceIds.wifi, 2);

    const after = await ask(alice, WIFI_QUESTION);
    expect(after.status).toBe(202);
    expect(after.view.cached).toBe(false);
    expect(after.view.answer).toContain('cedar-lantern-88');
    expect(after.view.answer).not.toContain('maple-sunrise-42');
    const again = await ask(alice, WIFI_QUESTION);
    expect(again).toMatchObject({ status: 200, view: { cached: true, answer: after.view.answer } });
  });

  it('misses after a cited note is deleted, and stops citing it', async () => {
    expect((await call(alice, 'DELETE', `/v1/notes/${aliceIds.wifi}`)).status).toBe(204);
    const after = await ask(alice, WIFI_QUESTION);
    expect(after.status).toBe(202);
    expect(after.view.cached).toBe(false);
    expect(after.view.answer).not.toContain('cedar-lantern-88');
    for (const source of after.view.sources) expect(source.note_id).not.toBe(aliceIds.wifi);
  });
});

describe('single-flight', () => {
  it('gives 50 concurrent identical questions one job, one query id, and the same complete answer', async () => {
    const question = 'When does my passport expire, and how long does renewal take?';
    const jobs = await answerJobs();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => call(alice, 'POST', '/v1/queries', { query: question })),
    );
    const replies = await Promise.all(
      responses.map(async (r) => ({ status: r.status, body: (await r.json()) as View & { id: string } })),
    );
    for (const reply of replies) expect([200, 202]).toContain(reply.status);
    const queued = replies.filter((r) => r.status === 202);
    // A client that arrived after the answer was stored gets it from the cache (200): also no job.
    const cachedReplies = replies.filter((r) => r.status === 200);
    expect(queued.length).toBeGreaterThan(0);
    // Soft, so a broken single flight still shows below whether every client got the same answer.
    expect.soft(new Set(queued.map((r) => r.body.id)).size, 'distinct query ids among the 202s').toBe(1);
    expect.soft((await answerJobs()) - jobs, 'answer jobs enqueued').toBe(1);

    const streams = await Promise.all(queued.map((r) => streamOf(alice, r.body.id)));
    const final = (await (
      await call(alice, 'GET', `/v1/queries/${queued[0]!.body.id}?wait=25`)
    ).json()) as View;
    expect(final.status).toBe('succeeded');
    expect(final.answer).toContain('March 2029');
    for (const stream of streams) {
      expect(stream.answer).toBe(final.answer);
      expect(stream.tokens).toBe(final.answer);
    }
    for (const reply of cachedReplies)
      expect(reply.body).toMatchObject({ cached: true, answer: final.answer });
  });
});
