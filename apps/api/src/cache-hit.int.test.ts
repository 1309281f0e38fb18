import { createAnswerCache } from '@assistant/cache';
import { answerSettings } from '@assistant/config';
import type { Answer } from '@assistant/contracts';
import { createNotesRepo } from '@assistant/db';
import { waitUntil } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

// The exact-cache hit as the API serves it (real Redis, real Postgres, no worker): answers are
// stored the way the worker stores them. A hit reads no Postgres when the process knows the
// user's generation from Postgres's announcements, so these check what that must still refuse:
// an answer whose note changed behind a Redis mirror that missed the bump, and that a hit still
// counts against the minute window and lands in the ledger.
type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type User = { id: string; api_key: string };

let t: TestApp;
let sql: postgres.Sql;
let asked = 0;

beforeAll(async () => {
  t = await createTestApp('cache_hit', { env: { TIERS_JSON: JSON.stringify({ free: { perMinute: 4 } }) } });
  sql = postgres(t.database.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await t?.close();
});

async function userWithNote(): Promise<{ user: User; note: { id: string; version: number } }> {
  const user = await t.createUser('free');
  const res = await t.app.request('/v1/notes', {
    method: 'POST',
    headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Wifi', body: 'The home wifi password is maple-sunrise-42.' }),
  });
  expect(res.status).toBe(201);
  return { user, note: (await res.json()) as { id: string; version: number } };
}

/** Stores an answer citing the note, under the state the worker would read now. */
async function storeAnswer(userId: string, note: { id: string; version: number }, query: string) {
  const answer: Answer = {
    outcome: 'answered',
    answer: 'The home wifi password is maple-sunrise-42. [1]',
    sources: [
      { note_id: note.id, title: 'Wifi', text: 'The home wifi password is maple-sunrise-42.', score: 0.9 },
    ],
    model: t.config.llm.model,
    provider: t.config.llm.provider,
    usage: { prompt_tokens: 120, completion_tokens: 12, total_tokens: 132 },
    cost_usd: 0.00003,
    truncated: false,
  };
  const stored = await createAnswerCache(t.redis, t.keys).set({
    state: await t.epochs.readCacheState(userId, 'free'),
    query,
    settings: answerSettings(t.config.llm),
    answer,
    evidence: [{ noteId: note.id, version: note.version }],
    fallback: false,
  });
  expect(stored).toEqual({ stored: true });
}

function ask(user: User, query: string) {
  return t.app.request('/v1/queries', {
    method: 'POST',
    headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
}

const newQuestion = () => `Cache hit question ${++asked}: what is my wifi password?`;

describe('exact-cache hit', () => {
  it('is not served once its note changed in Postgres, even when the Redis generation missed the bump', async () => {
    const { user, note } = await userWithNote();
    const query = newQuestion();
    await storeAnswer(user.id, note, query);
    expect((await ask(user, query)).status).toBe(200);
    const mirrored = await t.redis.get(t.keys.notesGeneration(user.id));

    // A note edit whose Redis follow-up never ran (Redis unreachable at that moment): Postgres has
    // the new version and generation, the Redis mirror still the old one.
    await createNotesRepo(t.db.db).update(user.id, note.id, { body: 'The wifi password is now oak-42.' });
    expect(await t.redis.get(t.keys.notesGeneration(user.id))).toBe(mirrored);
    await waitUntil(async () => (await ask(user, query)).status === 202, {
      what: 'the stale answer refused',
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    // And the mirror is raised to Postgres's generation for every process.
    const [row] = await sql`select notes_generation from users where id = ${user.id}`;
    expect(Number(await t.redis.get(t.keys.notesGeneration(user.id)))).toBe(Number(row!.notes_generation));
  });

  it('is not served after its note is deleted behind a Redis that kept an older generation', async () => {
    const { user, note } = await userWithNote();
    const query = newQuestion();
    await storeAnswer(user.id, note, query);
    expect((await ask(user, query)).status).toBe(200);
    await createNotesRepo(t.db.db).remove(user.id, note.id);
    await waitUntil(async () => (await ask(user, query)).status === 202, {
      what: 'the answer citing a deleted note refused',
      timeoutMs: 5_000,
      intervalMs: 50,
    });
  });

  it('counts against the minute window and lands in the ledger as a free, cached query', async () => {
    const { user, note } = await userWithNote();
    const query = newQuestion();
    await storeAnswer(user.id, note, query);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await ask(user, query);
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const refused = await ask(user, query);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    await waitUntil(
      async () => {
        const rows = await sql`select count(*)::int as n from cost_ledger where query_id = any(${ids})`;
        return rows[0]!.n === ids.length;
      },
      { what: 'a ledger entry per hit', timeoutMs: 10_000, intervalMs: 100 },
    );
    const rows = await sql`select cached, status from queries where id = any(${ids})`;
    expect(rows.map((r) => [r.cached, r.status])).toEqual(ids.map(() => [true, 'succeeded']));
  });
});
