import { z } from 'zod';

/** The shape of a note id (`n_` and 32 hex digits); anything else names no note. */
export const NOTE_ID_PATTERN = /^n_[0-9a-f]{32}$/;

/** Longest note body, in UTF-8 bytes (100 KB). */
export const MAX_NOTE_BODY_BYTES = 100 * 1024;
/** Longest note title, in characters. */
export const MAX_NOTE_TITLE_CHARS = 300;
/** Most notes in one `POST /v1/notes/batch`. */
export const MAX_NOTES_PER_BATCH = 100;

const title = z
  .string({ error: 'title must be a string' })
  .trim()
  .min(1, 'title must not be empty')
  .max(MAX_NOTE_TITLE_CHARS, `title must be at most ${MAX_NOTE_TITLE_CHARS} characters`);
const body = z
  .string({ error: 'body must be a string' })
  .refine((text) => text.trim().length > 0, 'body must not be empty')
  .refine((text) => Buffer.byteLength(text, 'utf8') <= MAX_NOTE_BODY_BYTES, 'body must be at most 100 KB');
const tags = z
  .array(z.string().trim().min(1, 'a tag must not be empty').max(50, 'a tag must be at most 50 characters'))
  .max(20, 'at most 20 tags');

/** Body of `POST /v1/notes` and `PUT /v1/notes/:id` (a full replacement). */
export const NoteInput = z.strictObject({ title, body, tags: tags.default([]) });
export type NoteInput = z.infer<typeof NoteInput>;

/** Body of `PATCH /v1/notes/:id`: any of the fields, at least one. */
export const NotePatch = z
  .strictObject({ title: title.optional(), body: body.optional(), tags: tags.optional() })
  .refine(
    (patch) => Object.values(patch).some((v) => v !== undefined),
    'give at least one of title, body, tags',
  );
export type NotePatch = z.infer<typeof NotePatch>;

/** Longest `external_id`, in characters. */
export const MAX_EXTERNAL_ID_CHARS = 500;

/**
 * A note of `POST /v1/notes/batch`. With `external_id` (the client's own name for it, such as a
 * file path) the batch upserts: a note the user already has under that id is replaced when its
 * fields differ and left alone when they do not, so re-sending the same notes changes nothing.
 */
export const NoteBatchItem = NoteInput.extend({
  external_id: z
    .string({ error: 'external_id must be a string' })
    .min(1, 'external_id must not be empty')
    .max(MAX_EXTERNAL_ID_CHARS, `external_id must be at most ${MAX_EXTERNAL_ID_CHARS} characters`)
    .refine((id) => !id.includes('\0'), 'external_id must not contain NUL')
    .optional(),
});
export type NoteBatchItem = z.infer<typeof NoteBatchItem>;

/** Body of `POST /v1/notes/batch`. */
export const NoteBatch = z.strictObject({
  notes: z
    .array(NoteBatchItem)
    .min(1, 'notes must not be empty')
    .max(MAX_NOTES_PER_BATCH, `at most ${MAX_NOTES_PER_BATCH} notes per batch`)
    .refine((items) => {
      const ids = items.flatMap((n) => (n.external_id === undefined ? [] : [n.external_id]));
      return new Set(ids).size === ids.length;
    }, 'external_id must be unique within a batch'),
});
export type NoteBatch = z.infer<typeof NoteBatch>;

/** Indexing state of a note. */
export const IndexStatus = z.enum(['pending', 'indexed', 'failed']);

/** A note as the API shows it. */
export const NoteView = z.object({
  id: z.string(),
  title: z.string(),
  body: z.string(),
  tags: z.array(z.string()),
  version: z.number().int(),
  external_id: z.string().nullable(),
  index_status: IndexStatus,
  index_error: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type NoteView = z.infer<typeof NoteView>;

/** Query string of `GET /v1/notes`. */
export const ListNotesParams = z.object({
  limit: z.coerce.number().int('limit must be an integer').min(1).max(100).default(20),
  // Opaque to clients; the repository decodes and checks what is inside.
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, 'cursor is not one this API returned')
    .optional(),
});

/** What a batch did to one note. */
export const NoteOutcome = z.enum(['created', 'updated', 'unchanged']);
export type NoteOutcome = z.infer<typeof NoteOutcome>;

/** One note of the `POST /v1/notes/batch` response, in the order sent. */
export const NoteBatchResult = z.object({
  id: z.string(),
  version: z.number().int(),
  index_status: IndexStatus,
  external_id: z.string().nullable(),
  outcome: NoteOutcome,
});
export type NoteBatchResult = z.infer<typeof NoteBatchResult>;

/** Payload of an `index-notes` job: index this version of this note (older versions do nothing). */
export const IndexNoteJob = z.strictObject({
  user_id: z.string().min(1),
  note_id: z.string().min(1),
  version: z.number().int().positive(),
});
export type IndexNoteJob = z.infer<typeof IndexNoteJob>;
