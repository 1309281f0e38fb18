import { IndexNoteJob } from '@assistant/contracts';
import type { ChunksRepo } from '@assistant/db';
import type { Embedder } from '@assistant/embeddings';
import { chunkText, vectorToBytes } from '@assistant/embeddings';
import type { NotesGenerations } from '@assistant/queue';
import type { Logger, Metrics } from '@assistant/telemetry';
import { type Job, UnrecoverableError } from 'bullmq';

/** The tokenizer facts chunking needs. */
export type ChunkTokenizer = {
  countTokens(text: string): number;
  truncateToTokens(text: string, maxTokens: number): string;
  /** Word pieces of text one inference takes (the window minus special tokens). */
  readonly maxTextTokens: number;
};

/** Deps of {@link createIndexProcessor}. */
export type IndexProcessorDeps = {
  chunks: Pick<ChunksRepo, 'noteForIndex' | 'replaceChunks' | 'markIndexFailed'>;
  embedder: Embedder;
  tokenizer: ChunkTokenizer;
  generations: Pick<NotesGenerations, 'publish'>;
  metrics: Metrics;
  logger: Logger;
  options: {
    /** Word pieces each chunk repeats from the previous one. @defaultValue 32 */
    overlapTokens: number;
    /** Word pieces of the title prefixed to every chunk's embedding input. @defaultValue 24 */
    titleTokens: number;
  };
};

/** What an indexing job did. */
export type IndexOutcome =
  | { status: 'indexed'; chunks: number; generation: number }
  | { status: 'skipped'; reason: 'deleted' | 'stale' | 'already_indexed' | 'superseded' };

/**
 * The `index-notes` processor: chunk a note version to fit the model window (with overlap),
 * embed every chunk with the note's title as context, and swap the note's chunks in one
 * transaction. Idempotent: re-running a version replaces its chunks; a job for an older version
 * than the note's current one does nothing.
 */
export function createIndexProcessor(deps: IndexProcessorDeps) {
  async function indexNote(job: IndexNoteJob): Promise<IndexOutcome> {
    const note = await deps.chunks.noteForIndex(job.note_id);
    if (!note) return { status: 'skipped', reason: 'deleted' };
    if (note.version !== job.version) return { status: 'skipped', reason: 'stale' };
    if (note.indexedVersion === note.version) return { status: 'skipped', reason: 'already_indexed' };

    const title = deps.tokenizer.truncateToTokens(note.title, deps.options.titleTokens);
    // The title and a newline share the window with the chunk.
    const budget = deps.tokenizer.maxTextTokens - deps.tokenizer.countTokens(title) - 1;
    const pieces = chunkText(
      note.body,
      { maxTokens: budget, overlapTokens: deps.options.overlapTokens },
      (t) => deps.tokenizer.countTokens(t),
    );
    const vectors = await deps.embedder.embed(pieces.map((piece) => `${title}\n${piece.text}`));
    const stored = await deps.chunks.replaceChunks(
      note.id,
      note.version,
      pieces.map((piece, i) => ({
        position: piece.index,
        text: piece.text,
        startChar: piece.startChar,
        endChar: piece.endChar,
        tokenCount: piece.tokenCount,
        embedding: vectorToBytes(vectors[i]!),
      })),
    );
    if (!stored) return { status: 'skipped', reason: 'superseded' };
    await deps.generations.publish(note.userId, stored.generation);
    return { status: 'indexed', chunks: pieces.length, generation: stored.generation };
  }

  async function processIndexJob(job: Job): Promise<IndexOutcome> {
    const parsed = IndexNoteJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid index job payload: ${parsed.error.message}`);
    const end = deps.metrics.jobDuration.startTimer({ queue: 'index-notes' });
    try {
      const outcome = await indexNote(parsed.data);
      end({ outcome: outcome.status });
      return outcome;
    } catch (error) {
      const final = attemptsLeft(job) === 0;
      end({ outcome: final ? 'failed' : 'retried' });
      deps.logger.warn({ err: error, noteId: parsed.data.note_id, final }, 'indexing attempt failed');
      if (final) {
        const reason = error instanceof Error ? error.message : String(error);
        await deps.chunks.markIndexFailed(parsed.data.note_id, parsed.data.version, reason);
      }
      throw error;
    }
  }

  return { processIndexJob, indexNote };
}

function attemptsLeft(job: Job): number {
  return Math.max(0, (job.opts.attempts ?? 1) - (job.attemptsMade + 1));
}
