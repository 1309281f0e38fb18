import { createTestDatabase, type TestDatabase, waitUntil } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from './client.ts';
import {
  type GenerationListener,
  listenToGenerations,
  parseGenerationPayload,
} from './generation-listener.ts';
import { createNotesRepo } from './notes-repo.ts';
import { createUsersRepo } from './users-repo.ts';

// Every generation bump is announced when its transaction commits; the listener says when it
// could have missed one (its connection lost) and listens again by itself.
let database: TestDatabase;
let db: Db;
let admin: postgres.Sql;
const listeners: GenerationListener[] = [];

beforeAll(async () => {
  database = await createTestDatabase('generation-listener');
  db = createDb({ url: database.url, poolSize: 2 });
  admin = postgres(database.url, { max: 1, onnotice: () => {} });
});
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});
afterAll(async () => {
  await admin?.end();
  await db?.close();
  await database?.drop();
});

function listen() {
  const heard: string[] = [];
  const listener = listenToGenerations(
    database.url,
    {
      onListening: () => heard.push('listening'),
      onLost: () => heard.push('lost'),
      onGeneration: (userId, generation) => heard.push(`${userId}:${generation}`),
    },
    { retryMs: 50, heartbeatMs: 100, heartbeatTimeoutMs: 1_000 },
  );
  listeners.push(listener);
  return { listener, heard };
}

describe('listenToGenerations', () => {
  it('announces each committed bump of a note change with the new generation', async () => {
    const { listener, heard } = listen();
    await listener.start();
    expect(listener.listening).toBe(true);
    const user = await createUsersRepo(db.db).createUserWithKey({ tier: 'free' });
    const notes = createNotesRepo(db.db);
    const { notes: saved, generation } = await notes.create(user.id, [{ title: 'a', body: 'b', tags: [] }]);
    const edited = await notes.update(user.id, saved[0]!.id, { body: 'c' });
    await waitUntil(async () => heard.length >= 3, { what: 'two announcements', timeoutMs: 5_000 });
    expect(heard).toEqual(['listening', `${user.id}:${generation}`, `${user.id}:${edited!.generation}`]);
  });

  it('reports a lost connection, then listens again by itself', async () => {
    const { listener, heard } = listen();
    await listener.start();
    await admin`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'listen%'`;
    await waitUntil(async () => heard.filter((h) => h === 'listening').length === 2, {
      what: 'listening again',
      timeoutMs: 10_000,
    });
    expect(heard).toEqual(['listening', 'lost', 'listening']);
    expect(listener.listening).toBe(true);
  });
});

describe('parseGenerationPayload', () => {
  it('reads the user id and generation, and refuses anything else', () => {
    expect(parseGenerationPayload('u_1:7')).toEqual({ userId: 'u_1', generation: 7 });
    expect(parseGenerationPayload('a:b:12')).toEqual({ userId: 'a:b', generation: 12 });
    expect(parseGenerationPayload('u_1:x')).toBeUndefined();
    expect(parseGenerationPayload(':3')).toBeUndefined();
  });
});
