import {
  MAX_NOTES_PER_BATCH,
  type NoteBatchItem,
  type NoteBatchResult,
  type NoteView,
} from '@assistant/contracts';
import type { ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';
import { findMarkdownFiles, type MarkdownNote, readMarkdownNotes } from './markdown-notes.ts';

/** Options of {@link importNotes}. */
export type ImportOptions = {
  /** Notes per `POST /v1/notes/batch`. @defaultValue 100 (the API's most) */
  batchSize: number;
  /** Wait until every imported note is indexed (or failed). @defaultValue true */
  wait: boolean;
  /** Longest wait for indexing, in ms. @defaultValue 600000 */
  waitTimeoutMs: number;
  /** @defaultValue 500 */
  pollMs: number;
};

/** Counts as the import goes, for a progress display. */
export type ImportProgress = {
  phase: 'sending' | 'indexing' | 'done';
  total: number;
  sent: number;
  indexed: number;
  failed: number;
};

/** What an import did. */
export type ImportSummary = {
  folder: string;
  files: number;
  /** Files that are not Markdown (or hidden), left out. */
  skipped: number;
  created: number;
  updated: number;
  unchanged: number;
  indexed: number;
  /** Still pending when the wait ended (or when not waiting). */
  pending: number;
  /** Files the API would refuse (checked here) and notes whose indexing failed. */
  failed: { file: string; error: string }[];
};

// The API reads at most 8 MB per batch; stay well under it whatever the notes' sizes.
const MAX_BATCH_BYTES = 6 * 1024 * 1024;

/** Splits notes into batches of at most `size` notes and {@link MAX_BATCH_BYTES}. */
function batchesOf(notes: { note: NoteBatchItem; bytes: number }[], size: number): NoteBatchItem[][] {
  const batches: NoteBatchItem[][] = [];
  let current: NoteBatchItem[] = [];
  let bytes = 0;
  for (const { note, bytes: noteBytes } of notes) {
    if (current.length > 0 && (current.length >= size || bytes + noteBytes > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(note);
    bytes += noteBytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Index states of the given notes, read from `GET /v1/notes` page by page. */
async function indexStates(client: ApiClient, ids: Set<string>): Promise<Map<string, NoteView>> {
  const found = new Map<string, NoteView>();
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const page = await client.call<{ data: NoteView[]; next_cursor: string | null }>(
      'GET',
      `/v1/notes${query}`,
    );
    for (const note of page.body.data) if (ids.has(note.id)) found.set(note.id, note);
    cursor = page.body.next_cursor;
  } while (cursor && found.size < ids.size);
  return found;
}

/**
 * Imports a folder of Markdown notes: finds and parses the files, sends them in batches (each
 * note named by its path, so a re-import updates changed notes and leaves the rest alone), then
 * follows their indexing until every note is indexed or failed, or the wait is over.
 */
export async function importNotes(
  client: ApiClient,
  folder: string,
  options: ImportOptions,
  onProgress: (progress: ImportProgress) => void,
): Promise<ImportSummary> {
  const { files, skipped } = await findMarkdownFiles(folder);
  const parsed: MarkdownNote[] = await readMarkdownNotes(folder, files);
  const good = parsed.flatMap((p) => ('note' in p ? [p] : []));
  const failed = parsed.flatMap((p) => ('error' in p ? [{ file: p.file, error: p.error }] : []));
  const summary: ImportSummary = {
    folder,
    files: files.length,
    skipped,
    created: 0,
    updated: 0,
    unchanged: 0,
    indexed: 0,
    pending: 0,
    failed,
  };
  const progress: ImportProgress = {
    phase: 'sending',
    total: good.length,
    sent: 0,
    indexed: 0,
    failed: failed.length,
  };
  onProgress(progress);

  const results: NoteBatchResult[] = [];
  for (const batch of batchesOf(good, Math.min(options.batchSize, MAX_NOTES_PER_BATCH))) {
    const res = await client
      .call<{ data: NoteBatchResult[] }>('POST', '/v1/notes/batch', { notes: batch })
      .catch((error: unknown) => {
        if (!(error instanceof CliError)) throw error;
        throw new CliError(
          `${error.message}\n${progress.sent} of ${good.length} notes were sent; importing again is safe (unchanged notes are left alone)`,
          error.exitCode,
        );
      });
    for (const result of res.body.data) {
      results.push(result);
      summary[result.outcome] += 1;
    }
    progress.sent += batch.length;
    onProgress(progress);
  }

  const fileOf = new Map(results.map((r) => [r.id, r.external_id ?? r.id]));
  const pending = new Set<string>();
  for (const result of results) {
    if (result.index_status === 'indexed') progress.indexed += 1;
    else pending.add(result.id);
  }
  progress.phase = 'indexing';
  onProgress(progress);
  const deadline = Date.now() + options.waitTimeoutMs;
  while (options.wait && pending.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    const states = await indexStates(client, pending);
    for (const id of [...pending]) {
      const note = states.get(id);
      // A note deleted meanwhile is no longer this import's to wait for.
      if (!note) pending.delete(id);
      else if (note.index_status === 'indexed') {
        pending.delete(id);
        progress.indexed += 1;
      } else if (note.index_status === 'failed') {
        pending.delete(id);
        progress.failed += 1;
        summary.failed.push({
          file: fileOf.get(id) ?? id,
          error: `indexing failed: ${note.index_error ?? 'unknown'}`,
        });
      }
    }
    onProgress(progress);
  }
  summary.indexed = progress.indexed;
  summary.pending = pending.size;
  progress.phase = 'done';
  onProgress(progress);
  return summary;
}
