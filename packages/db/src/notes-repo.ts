import { randomUUID } from 'node:crypto';
import { and, asc, eq, getTableColumns, gt, inArray, or, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { NOTES_GENERATION_CHANNEL } from './generation-listener.ts';
import { type NoteRow, notes, users } from './schema.ts';

/** The fields a user writes; `externalId` is the client's own name for the note (optional). */
export type NoteFields = { title: string; body: string; tags: string[]; externalId?: string };

/** What a write did to one note. */
export type NoteOutcome = 'created' | 'updated' | 'unchanged';

/** A note as {@link NotesRepo.create} left it. */
export type SavedNote = NoteRow & { outcome: NoteOutcome };

/** A page of notes and the cursor of the next one. */
export type NotePage = { notes: NoteRow[]; nextCursor: string | null };

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Bumps a user's notes generation inside a transaction; returns the new value. The same statement
 * notifies {@link NOTES_GENERATION_CHANNEL} (`<user id>:<generation>`), delivered when the
 * transaction commits: API processes listen, so they know Postgres's generation without asking.
 */
export async function bumpGeneration(tx: Tx | Database, userId: string): Promise<number> {
  const rows = await tx
    .update(users)
    .set({ notesGeneration: sql`${users.notesGeneration} + 1` })
    .where(eq(users.id, userId))
    .returning({
      generation: users.notesGeneration,
      notified: sql`pg_notify(${NOTES_GENERATION_CHANNEL}, ${users.id} || ':' || ${users.notesGeneration})`,
    });
  return rows[0]?.generation ?? 0;
}

async function currentGeneration(tx: Tx | Database, userId: string): Promise<number> {
  const rows = await tx
    .select({ generation: users.notesGeneration })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  return rows[0]?.generation ?? 0;
}

function encodeCursor(row: NoteRow): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(n_[0-9a-f]{32})$/;

/**
 * Only what {@link encodeCursor} writes: a crafted cursor must never reach Postgres as an
 * impossible timestamp or an id with NUL bytes (both make the query fail, not miss).
 */
function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) return undefined;
  const [, iso, id] = match as unknown as [string, string, string];
  const createdAt = new Date(iso);
  // Rows are never older than 1970; Postgres refuses year 0, which JS accepts.
  if (!(createdAt.getTime() >= 0) || createdAt.toISOString() !== iso) return undefined;
  return { createdAt, id };
}

/**
 * Notes of users. Every write bumps the note's version and, in the same transaction, the user's
 * notes generation, so a cache keyed by generation can never outlive a change.
 */
export function createNotesRepo(db: Database) {
  return {
    /**
     * Stores notes (one or a batch) in one transaction; returns them, in input order, each with
     * what happened to it, and the generation. A note with an `externalId` the user already has
     * replaces that note when its fields differ (a new version) and is left alone when they do
     * not: re-importing the same files changes nothing, not even the generation.
     */
    async create(userId: string, inputs: NoteFields[]): Promise<{ notes: SavedNote[]; generation: number }> {
      return db.transaction(async (tx) => {
        const values = inputs.map((input) => ({
          id: `n_${randomUUID().replaceAll('-', '')}`,
          userId,
          title: input.title,
          body: input.body,
          tags: input.tags,
          externalId: input.externalId ?? null,
        }));
        const written = await tx
          .insert(notes)
          .values(values)
          .onConflictDoUpdate({
            target: [notes.userId, notes.externalId],
            targetWhere: sql`${notes.externalId} is not null`,
            set: {
              title: sql`excluded.title`,
              body: sql`excluded.body`,
              tags: sql`excluded.tags`,
              version: sql`${notes.version} + 1`,
              indexStatus: 'pending',
              indexError: null,
              updatedAt: sql`now()`,
            },
            setWhere: sql`(${notes.title}, ${notes.body}, ${notes.tags}) is distinct from (excluded.title, excluded.body, excluded.tags)`,
          })
          // xmax is 0 on a freshly inserted row and set on one the conflict clause updated.
          .returning({ ...getTableColumns(notes), inserted: sql<boolean>`xmax = 0` });
        const byKey = new Map(written.map((row) => [row.externalId ?? row.id, row]));
        const missing = values.filter((v) => v.externalId !== null && !byKey.has(v.externalId));
        if (missing.length > 0) {
          const same = await tx
            .select()
            .from(notes)
            .where(
              and(
                eq(notes.userId, userId),
                inArray(
                  notes.externalId,
                  missing.map((v) => v.externalId!),
                ),
              ),
            );
          for (const row of same) byKey.set(row.externalId!, { ...row, inserted: false });
        }
        const saved = values.map((v): SavedNote => {
          const { inserted, ...row } = byKey.get(v.externalId ?? v.id)!;
          const outcome = written.some((w) => w.id === row.id)
            ? inserted
              ? 'created'
              : 'updated'
            : 'unchanged';
          return { ...row, outcome };
        });
        const changed = saved.some((note) => note.outcome !== 'unchanged');
        const generation = changed ? await bumpGeneration(tx, userId) : await currentGeneration(tx, userId);
        return { notes: saved, generation };
      });
    },

    /** One note of this user, or `undefined`. */
    async get(userId: string, id: string): Promise<NoteRow | undefined> {
      const rows = await db
        .select()
        .from(notes)
        .where(and(eq(notes.id, id), eq(notes.userId, userId)))
        .limit(1);
      return rows[0];
    },

    /** A page of this user's notes, oldest first, keyset-paginated (stable under inserts). */
    async list(userId: string, options: { limit: number; cursor?: string }): Promise<NotePage | undefined> {
      const after = options.cursor ? decodeCursor(options.cursor) : undefined;
      if (options.cursor && !after) return undefined;
      const rows = await db
        .select()
        .from(notes)
        .where(
          and(
            eq(notes.userId, userId),
            after
              ? or(
                  gt(notes.createdAt, after.createdAt),
                  and(eq(notes.createdAt, after.createdAt), gt(notes.id, after.id)),
                )
              : undefined,
          ),
        )
        .orderBy(asc(notes.createdAt), asc(notes.id))
        .limit(options.limit + 1);
      const page = rows.slice(0, options.limit);
      const last = page.at(-1);
      return { notes: page, nextCursor: rows.length > options.limit && last ? encodeCursor(last) : null };
    },

    /** Changes a note: new version, indexing pending again. `undefined` if not this user's. */
    async update(
      userId: string,
      id: string,
      fields: Partial<NoteFields>,
    ): Promise<{ note: NoteRow; generation: number } | undefined> {
      return db.transaction(async (tx) => {
        const rows = await tx
          .update(notes)
          .set({
            ...fields,
            version: sql`${notes.version} + 1`,
            indexStatus: 'pending',
            indexError: null,
            updatedAt: sql`now()`,
          })
          .where(and(eq(notes.id, id), eq(notes.userId, userId)))
          .returning();
        const note = rows[0];
        if (!note) return undefined;
        return { note, generation: await bumpGeneration(tx, userId) };
      });
    },

    /** Deletes a note and its chunks. `undefined` if not this user's. */
    async remove(userId: string, id: string): Promise<{ generation: number } | undefined> {
      return db.transaction(async (tx) => {
        const rows = await tx
          .delete(notes)
          .where(and(eq(notes.id, id), eq(notes.userId, userId)))
          .returning({ id: notes.id });
        if (rows.length === 0) return undefined;
        return { generation: await bumpGeneration(tx, userId) };
      });
    },

    /** Current versions of some of this user's notes (deleted ones are absent). */
    async versions(userId: string, ids: string[]): Promise<Map<string, number>> {
      if (ids.length === 0) return new Map();
      const rows = await db
        .select({ id: notes.id, version: notes.version })
        .from(notes)
        .where(and(eq(notes.userId, userId), inArray(notes.id, ids)));
      return new Map(rows.map((row) => [row.id, row.version]));
    },

    /** Notes whose indexing is pending since before `olderThan` (for the re-enqueue sweep). */
    async findStalePending(olderThan: Date, limit: number) {
      return db
        .select({ id: notes.id, userId: notes.userId, version: notes.version })
        .from(notes)
        .where(and(eq(notes.indexStatus, 'pending'), sql`${notes.updatedAt} < ${olderThan.toISOString()}`))
        .limit(limit);
    },

    /** The generation as stored in Postgres (the source of truth). */
    async generation(userId: string): Promise<number> {
      return currentGeneration(db, userId);
    },
  };
}

/** The notes repository's interface. */
export type NotesRepo = ReturnType<typeof createNotesRepo>;
