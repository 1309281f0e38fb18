import {
  ListNotesParams,
  NOTE_ID_PATTERN,
  NoteBatch,
  type NoteBatchResult,
  NoteInput,
  NotePatch,
  type NoteView,
} from '@assistant/contracts';
import type { NoteRow, NotesRepo } from '@assistant/db';
import type { IndexQueue, NotesGenerations } from '@assistant/queue';
import { type Logger, withDeadline } from '@assistant/telemetry';
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { AppError, notFound } from '../app-error.ts';
import { readJson } from '../json-body.ts';

/** Deps of {@link createNoteRoutes}. */
export type NoteRoutesDeps = {
  notes: NotesRepo;
  indexQueue: Pick<IndexQueue, 'enqueue'>;
  generations: Pick<NotesGenerations, 'publish'>;
  logger: Logger;
};

// Redis follow-ups of a note change get this long; Postgres already has the change.
const FOLLOW_UP_TIMEOUT_MS = 2_000;

function toNoteView(row: NoteRow): NoteView {
  return {
    id: row.id,
    title: row.title,
    body: row.body,
    tags: row.tags,
    version: row.version,
    external_id: row.externalId,
    index_status: row.indexStatus,
    index_error: row.indexError,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function summary(row: NoteRow) {
  return { id: row.id, version: row.version, index_status: row.indexStatus };
}

/** `/v1/notes`: CRUD and batch import. Indexing happens in the workers, never here. */
export function createNoteRoutes(deps: NoteRoutesDeps) {
  const app = new Hono<AppEnv>();

  /**
   * After a committed change: raise the generation in Redis (cached answers become unreachable)
   * and enqueue indexing. Postgres holds the change either way; if Redis is down, the worker's
   * sweep enqueues pending notes later and indexing raises the generation again.
   */
  async function followUp(userId: string, generation: number, changed: NoteRow[]) {
    try {
      await withDeadline(
        Promise.all([
          deps.generations.publish(userId, generation),
          deps.indexQueue.enqueue(
            changed.map((n) => ({ user_id: userId, note_id: n.id, version: n.version })),
          ),
        ]),
        FOLLOW_UP_TIMEOUT_MS,
        'note follow-up',
      );
    } catch (error) {
      deps.logger.warn({ err: error, userId }, 'note saved, indexing deferred to the sweep');
    }
  }

  function noteId(id: string): string {
    if (!NOTE_ID_PATTERN.test(id)) throw notFound('note');
    return id;
  }

  app.post('/', async function createNote(c) {
    const user = c.get('user');
    const input = await readJson(c, NoteInput);
    const { notes, generation } = await deps.notes.create(user.userId, [input]);
    await followUp(user.userId, generation, notes);
    return c.json(summary(notes[0]!), 201);
  });

  app.post('/batch', async function createNotes(c) {
    const user = c.get('user');
    const input = await readJson(c, NoteBatch);
    const { notes, generation } = await deps.notes.create(
      user.userId,
      input.notes.map(({ external_id, ...fields }) => ({ ...fields, externalId: external_id })),
    );
    // A batch of notes the user already has, unchanged, touches neither the caches nor the index.
    const changed = notes.filter((note) => note.outcome !== 'unchanged');
    if (changed.length > 0) await followUp(user.userId, generation, changed);
    return c.json(
      {
        data: notes.map(
          (note): NoteBatchResult => ({
            ...summary(note),
            external_id: note.externalId,
            outcome: note.outcome,
          }),
        ),
      },
      201,
    );
  });

  app.get('/', async function listNotes(c) {
    const user = c.get('user');
    const params = ListNotesParams.parse({ limit: c.req.query('limit'), cursor: c.req.query('cursor') });
    const page = await deps.notes.list(user.userId, params);
    if (!page) throw new AppError('invalid_request', 'cursor is not one this API returned', { status: 400 });
    return c.json({ data: page.notes.map(toNoteView), next_cursor: page.nextCursor });
  });

  app.get('/:id', async function getNote(c) {
    const note = await deps.notes.get(c.get('user').userId, noteId(c.req.param('id')));
    if (!note) throw notFound('note');
    return c.json(toNoteView(note));
  });

  async function change(userId: string, id: string, fields: Partial<NoteInput>) {
    const changed = await deps.notes.update(userId, noteId(id), fields);
    if (!changed) throw notFound('note');
    await followUp(userId, changed.generation, [changed.note]);
    return toNoteView(changed.note);
  }

  app.put('/:id', async function replaceNote(c) {
    const input = await readJson(c, NoteInput);
    return c.json(await change(c.get('user').userId, c.req.param('id'), input));
  });

  app.patch('/:id', async function patchNote(c) {
    const patch = await readJson(c, NotePatch);
    return c.json(await change(c.get('user').userId, c.req.param('id'), patch));
  });

  app.delete('/:id', async function deleteNote(c) {
    const user = c.get('user');
    const removed = await deps.notes.remove(user.userId, noteId(c.req.param('id')));
    if (!removed) throw notFound('note');
    await followUp(user.userId, removed.generation, []);
    return c.body(null, 204);
  });

  return app;
}
