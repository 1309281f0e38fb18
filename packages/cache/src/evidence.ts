import { z } from 'zod';
import { sha256Hex, stableJson } from './fingerprint.ts';

/** A note chunk an answer was built from, with the note version it was read at. */
export const EvidenceRef = z.object({
  noteId: z.string().min(1),
  chunkId: z.string().min(1).optional(),
  version: z.number().int(),
});
export type EvidenceRef = z.infer<typeof EvidenceRef>;

/** Current version of each note that still exists; a deleted note is simply absent. */
export type NoteVersions = ReadonlyMap<string, number>;

/**
 * Looks up the current versions of some of the user's notes (one query, e.g.
 * `select id, version from notes where user_id = $1 and id = any($2)`).
 */
export type CurrentVersions = (noteIds: string[]) => Promise<NoteVersions>;

/** The distinct note ids of some evidence, in first-seen order. */
export function evidenceNoteIds(evidence: readonly EvidenceRef[]): string[] {
  return [...new Set(evidence.map((ref) => ref.noteId))];
}

/**
 * True when every cited note still exists at the version the answer read. Evidence that cites
 * nothing is current: whatever the answer said did not depend on a note.
 */
export function isEvidenceCurrent(evidence: readonly EvidenceRef[], versions: NoteVersions): boolean {
  return evidence.every((ref) => versions.get(ref.noteId) === ref.version);
}

/**
 * A stable fingerprint of a set of chunks (ids and versions, order and duplicates ignored): two
 * questions that retrieve the same fingerprint would be answered from the same text.
 *
 * @example
 * const evidenceKey = evidenceFingerprint(retrieved.map((c) => ({ noteId: c.noteId, chunkId: c.id, version: c.noteVersion })));
 */
export function evidenceFingerprint(evidence: readonly EvidenceRef[]): string {
  const tuples = [
    ...new Set(evidence.map((ref) => stableJson([ref.noteId, ref.chunkId ?? null, ref.version]))),
  ];
  return sha256Hex(`[${tuples.sort().join(',')}]`);
}
