import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { bumpGeneration } from './notes-repo.ts';
import { noteChunks, notes } from './schema.ts';

/** A chunk to store: its text, where it sits in the note, and its vector as bytes. */
export type NewChunk = {
  position: number;
  text: string;
  startChar: number;
  endChar: number;
  tokenCount: number;
  embedding: Buffer;
};

/** A stored chunk as retrieval loads it. */
export type StoredChunk = {
  id: string;
  noteId: string;
  noteVersion: number;
  title: string;
  text: string;
  embedding: Buffer;
};

/** A lexical (full-text) match. */
export type LexicalHit = { id: string; rank: number };

/** Note chunks: written by indexing, read by retrieval. */
export function createChunksRepo(db: Database) {
  return {
    /** The note as indexing needs it, or `undefined` if it was deleted. */
    async noteForIndex(noteId: string) {
      const rows = await db
        .select({
          id: notes.id,
          userId: notes.userId,
          title: notes.title,
          body: notes.body,
          version: notes.version,
          indexedVersion: notes.indexedVersion,
        })
        .from(notes)
        .where(eq(notes.id, noteId))
        .limit(1);
      return rows[0];
    },

    /**
     * Replaces a note's chunks with those of `version`, marks it indexed and bumps the user's
     * generation, all in one transaction, and only if the note is still at `version` (a stale
     * job, overtaken by an edit, changes nothing). Returns the new generation, or `undefined`.
     */
    async replaceChunks(
      noteId: string,
      version: number,
      chunks: NewChunk[],
    ): Promise<{ generation: number } | undefined> {
      return db.transaction(async (tx) => {
        const locked = await tx
          .select({ userId: notes.userId, title: notes.title })
          .from(notes)
          .where(and(eq(notes.id, noteId), eq(notes.version, version)))
          .for('update');
        const note = locked[0];
        if (!note) return undefined;
        await tx.delete(noteChunks).where(eq(noteChunks.noteId, noteId));
        if (chunks.length > 0) {
          await tx.insert(noteChunks).values(
            chunks.map((chunk) => ({
              id: `c_${randomUUID().replaceAll('-', '')}`,
              noteId,
              userId: note.userId,
              noteVersion: version,
              title: note.title,
              ...chunk,
            })),
          );
        }
        await tx
          .update(notes)
          .set({ indexStatus: 'indexed', indexedVersion: version, indexError: null })
          .where(eq(notes.id, noteId));
        return { generation: await bumpGeneration(tx, note.userId) };
      });
    },

    /** Marks a version's indexing failed, unless the note moved on. */
    async markIndexFailed(noteId: string, version: number, reason: string): Promise<void> {
      await db
        .update(notes)
        .set({ indexStatus: 'failed', indexError: reason.slice(0, 500) })
        .where(and(eq(notes.id, noteId), eq(notes.version, version)));
    },

    /** Every chunk of a user with its vector (retrieval builds its in-memory matrix from this). */
    async loadUserChunks(userId: string): Promise<StoredChunk[]> {
      return db
        .select({
          id: noteChunks.id,
          noteId: noteChunks.noteId,
          noteVersion: noteChunks.noteVersion,
          title: noteChunks.title,
          text: noteChunks.text,
          embedding: noteChunks.embedding,
        })
        .from(noteChunks)
        .where(eq(noteChunks.userId, userId))
        .orderBy(noteChunks.noteId, noteChunks.position);
    },

    /**
     * Full-text matches of a user's chunks, best first. Words are OR-ed (a question rarely uses
     * every word of the note); `websearch_to_tsquery` never fails on odd input.
     */
    async lexicalSearch(userId: string, words: string[], limit: number): Promise<LexicalHit[]> {
      if (words.length === 0) return [];
      const query = words.join(' or ');
      const rows = await db.execute<{ id: string; rank: number }>(sql`
        select c.id, ts_rank_cd(c.tsv, q, 1) as rank
        from ${noteChunks} c, websearch_to_tsquery('english', ${query}) q
        where c.user_id = ${userId} and c.tsv @@ q
        order by rank desc
        limit ${limit}`);
      return rows.map((row) => ({ id: row.id, rank: Number(row.rank) }));
    },
  };
}

/** The chunks repository's interface. */
export type ChunksRepo = ReturnType<typeof createChunksRepo>;
