import type { IndexNoteJob } from '@assistant/contracts';
import type { ChunksRepo } from '@assistant/db';
import { createBatchingEmbedder, dot, type Embedder, vectorFromBytes } from '@assistant/embeddings';
import { createIndexQueue, createNotesGenerations, createRedis, QUEUE_NAMES } from '@assistant/queue';
import { waitUntil } from '@assistant/testing';
import { type Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, type WorkerTestEnv } from '../test-worker.ts';
import { createIndexProcessor, type IndexProcessorDeps } from './index-processor.ts';
import { createPendingSweep } from './pending-sweep.ts';

let env: WorkerTestEnv;
let embedder: Embedder;

beforeAll(async () => {
  env = await createWorkerTestEnv('index-processor', { model: true });
  embedder = createBatchingEmbedder(env.model());
});
afterAll(async () => {
  await env?.close();
});

function generations() {
  return createNotesGenerations(env.redis, env.keys, (userId) => env.notes.generation(userId));
}

/** The real processor as compose.ts builds it; `change` swaps one dep for a wrapper of the real one. */
function buildIndexer(change: Partial<IndexProcessorDeps> = {}) {
  return createIndexProcessor({
    chunks: env.chunks,
    embedder,
    tokenizer: env.model(),
    generations: generations(),
    metrics: env.metrics,
    logger: env.logger,
    options: { overlapTokens: 32, titleTokens: 24 },
    ...change,
  });
}

function jobOf(note: { userId: string; id: string; version: number }): IndexNoteJob {
  return { user_id: note.userId, note_id: note.id, version: note.version };
}

async function chunksOfNote(userId: string, noteId: string) {
  return (await env.chunks.loadUserChunks(userId)).filter((chunk) => chunk.noteId === noteId);
}

describe('createIndexProcessor: indexNote', () => {
  it('stores embedded chunks, marks the note indexed at its version and publishes the generation', async () => {
    const userId = await env.createUser();
    const note = await env.createNote(userId, {
      title: 'Garden',
      body: 'Tomatoes are planted out after the last frost, in mid May, 60 cm apart.',
    });
    const before = await env.notes.generation(userId);

    const outcome = await buildIndexer().indexNote(jobOf(note));

    const after = await env.notes.generation(userId);
    expect(outcome).toEqual({ status: 'indexed', chunks: 1, generation: after });
    expect(after).toBe(before + 1);
    expect(await generations().current(userId)).toBe(after);
    expect(await env.redis.get(env.keys.notesGeneration(userId))).toBe(String(after));

    const stored = await env.notes.get(userId, note.id);
    expect(stored).toMatchObject({ indexStatus: 'indexed', indexedVersion: 1, indexError: null });

    const [chunk] = await chunksOfNote(userId, note.id);
    expect(chunk).toMatchObject({ noteVersion: 1, title: 'Garden', text: note.body });
    // The stored vector is the model's embedding of the title-prefixed chunk.
    const vector = vectorFromBytes(chunk!.embedding);
    expect(vector).toHaveLength(env.model().dimension);
    const [expected] = await env.model().embedBatch([`Garden\n${note.body}`]);
    expect(dot(vector, expected!)).toBeGreaterThan(0.999);
  });

  it('splits a long note into overlapping chunks that each fit the model window', async () => {
    const userId = await env.createUser();
    const body = Array.from(
      { length: 80 },
      (_, i) => `Sentence number ${i} of the long travel diary mentions the town of Place${i}.`,
    ).join(' ');
    const note = await env.createNote(userId, { title: 'Travel diary', body });

    const outcome = await buildIndexer().indexNote(jobOf(note));

    expect(outcome.status).toBe('indexed');
    const chunks = await chunksOfNote(userId, note.id);
    expect(chunks.length).toBeGreaterThan(1);
    expect(outcome).toMatchObject({ chunks: chunks.length });
    for (const chunk of chunks) {
      expect(env.model().countTokens(`Travel diary\n${chunk.text}`)).toBeLessThanOrEqual(
        env.model().maxTextTokens,
      );
      expect(body).toContain(chunk.text);
    }
    // Chunks overlap: each starts inside the text of the one before it.
    for (let i = 1; i < chunks.length; i += 1) {
      expect(chunks[i - 1]!.text).toContain(chunks[i]!.text.slice(0, 20));
    }
    // Every sentence is in some chunk: nothing of the note is lost between chunks.
    for (let i = 0; i < 80; i += 1) {
      expect(chunks.some((chunk) => chunk.text.includes(`Place${i}.`))).toBe(true);
    }
  });

  it('skips a job for a version it already indexed, without bumping the generation', async () => {
    const userId = await env.createUser();
    const note = await env.createNote(userId, { title: 'Once', body: 'Indexed exactly once.' });
    const indexer = buildIndexer();
    await indexer.indexNote(jobOf(note));
    const generation = await env.notes.generation(userId);
    const [chunk] = await chunksOfNote(userId, note.id);

    expect(await indexer.indexNote(jobOf(note))).toEqual({ status: 'skipped', reason: 'already_indexed' });
    expect(await env.notes.generation(userId)).toBe(generation);
    expect((await chunksOfNote(userId, note.id)).map((c) => c.id)).toEqual([chunk!.id]);
  });

  it('lets a stale job (an older version) change nothing of the newer index', async () => {
    const userId = await env.createUser();
    const v1 = await env.createNote(userId, { title: 'Wifi', body: 'The old password is apple.' });
    const updated = await env.notes.update(userId, v1.id, { body: 'The new password is banana.' });
    const indexer = buildIndexer();
    expect(await indexer.indexNote(jobOf(updated!.note))).toMatchObject({ status: 'indexed' });
    const generation = await env.notes.generation(userId);

    expect(await indexer.indexNote(jobOf(v1))).toEqual({ status: 'skipped', reason: 'stale' });

    const chunks = await chunksOfNote(userId, v1.id);
    expect(chunks.map((c) => [c.noteVersion, c.text])).toEqual([[2, 'The new password is banana.']]);
    expect(await env.notes.get(userId, v1.id)).toMatchObject({ indexStatus: 'indexed', indexedVersion: 2 });
    expect(await env.notes.generation(userId)).toBe(generation);
  });

  it('writes nothing when the note changes while its chunks are being embedded (superseded)', async () => {
    const userId = await env.createUser();
    const note = await env.createNote(userId, { title: 'Race', body: 'First text.' });
    // The real repo, with an edit landing right after indexing read the note.
    const racing: Pick<ChunksRepo, 'noteForIndex' | 'replaceChunks' | 'markIndexFailed'> = {
      ...env.chunks,
      async noteForIndex(noteId) {
        const read = await env.chunks.noteForIndex(noteId);
        await env.notes.update(userId, noteId, { body: 'Second text.' });
        return read;
      },
    };
    const published = await env.redis.get(env.keys.notesGeneration(userId));

    expect(await buildIndexer({ chunks: racing }).indexNote(jobOf(note))).toEqual({
      status: 'skipped',
      reason: 'superseded',
    });
    expect(await chunksOfNote(userId, note.id)).toEqual([]);
    expect(await env.notes.get(userId, note.id)).toMatchObject({ version: 2, indexStatus: 'pending' });
    expect(await env.redis.get(env.keys.notesGeneration(userId))).toBe(published);
  });

  it('does nothing for a deleted note', async () => {
    const userId = await env.createUser();
    const note = await env.createNote(userId, { title: 'Gone', body: 'Deleted before indexing.' });
    await env.notes.remove(userId, note.id);
    const generation = await env.notes.generation(userId);

    expect(await buildIndexer().indexNote(jobOf(note))).toEqual({ status: 'skipped', reason: 'deleted' });
    expect(await env.chunks.loadUserChunks(userId)).toEqual([]);
    expect(await env.notes.generation(userId)).toBe(generation);
  });
});

describe('createIndexProcessor: processIndexJob under a real BullMQ worker', () => {
  /** Runs `processIndexJob` of `indexer` over a real queue until `jobs` are finished. */
  async function runJobs(
    indexer: ReturnType<typeof buildIndexer>,
    jobs: unknown[],
    options: { attempts: number },
  ): Promise<Job[]> {
    const queue = createIndexQueue(env.redis, env.keys, {
      attempts: options.attempts,
      backoffMs: 10,
      retentionSeconds: 600,
    });
    const connection = createRedis(env.testRedis.url, 'worker');
    const worker = new Worker(QUEUE_NAMES.indexNotes, indexer.processIndexJob, {
      connection,
      prefix: env.keys.bullPrefix(QUEUE_NAMES.indexNotes),
    });
    try {
      const added = await Promise.all(
        jobs.map((data, i) =>
          queue.queue.add(QUEUE_NAMES.indexNotes, data as IndexNoteJob, {
            jobId: `run-${Date.now()}-${i}`,
          }),
        ),
      );
      await waitUntil(
        async () => {
          const states = await Promise.all(added.map((job) => job.getState()));
          return states.every((state) => state === 'completed' || state === 'failed');
        },
        { what: 'index jobs finished', timeoutMs: 20_000 },
      );
      return Promise.all(added.map(async (job) => (await queue.queue.getJob(job.id!))!));
    } finally {
      await worker.close();
      await queue.close();
      connection.disconnect();
    }
  }

  it('completes with the outcome as the return value', async () => {
    const userId = await env.createUser();
    const note = await env.createNote(userId, { title: 'Queue', body: 'Indexed through BullMQ.' });
    const [job] = await runJobs(buildIndexer(), [jobOf(note)], { attempts: 1 });
    expect(await job!.getState()).toBe('completed');
    expect(job!.returnvalue).toMatchObject({ status: 'indexed', chunks: 1 });
  });

  it('fails an invalid payload at once, without retries', async () => {
    const [job] = await runJobs(buildIndexer(), [{ note_id: 'n_x' }], { attempts: 3 });
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    expect(job!.failedReason).toMatch(/invalid index job payload/);
  });

  it('marks the note failed with the reason only once the last attempt failed', async () => {
    const userId = await env.createUser();
    const note = await env.createNote(userId, { title: 'Broken', body: 'The model is down.' });
    let calls = 0;
    const states: (string | undefined)[] = [];
    // The model's inference failing (a narrow fake of the one injected interface).
    const failing: Embedder = {
      async embed() {
        calls += 1;
        states.push((await env.notes.get(userId, note.id))?.indexStatus);
        throw new Error('onnx session lost');
      },
    };

    const [job] = await runJobs(buildIndexer({ embedder: failing }), [jobOf(note)], { attempts: 2 });

    expect(await job!.getState()).toBe('failed');
    expect(calls).toBe(2);
    // Still pending during the retry: an attempt that will be retried marks nothing.
    expect(states).toEqual(['pending', 'pending']);
    expect(await env.notes.get(userId, note.id)).toMatchObject({
      indexStatus: 'failed',
      indexError: 'onnx session lost',
      indexedVersion: null,
    });
  });
});

describe('createPendingSweep', () => {
  it('re-enqueues notes pending longer than the threshold, once per version', async () => {
    const userId = await env.createUser();
    const pending = await env.createNote(userId, { title: 'Stuck', body: 'Its job was lost.' });
    const done = await env.createNote(userId, { title: 'Fine', body: 'Already indexed.' });
    await buildIndexer().indexNote(jobOf(done));
    const queue = createIndexQueue(env.redis, env.keys, {
      attempts: 1,
      backoffMs: 10,
      retentionSeconds: 600,
    });
    let nowMs = Date.now();
    const sweep = createPendingSweep(
      { notes: env.notes, indexQueue: queue, logger: env.logger, now: () => nowMs },
      { olderThanMs: 60_000, intervalMs: 60_000, batch: 500 },
    );
    try {
      // Not old enough yet.
      expect(await sweep.sweep()).toBe(0);
      nowMs += 120_000;
      // Other files' notes do not exist in this database; every pending note here is this test's or
      // an earlier test's, so look for this one by its job id.
      expect(await sweep.sweep()).toBeGreaterThanOrEqual(1);
      const job = await queue.queue.getJob(`idx-${pending.id}-v1`);
      expect(job?.data).toEqual(jobOf(pending));
      expect(await queue.queue.getJob(`idx-${done.id}-v1`)).toBeUndefined();

      // A second sweep finds the job still there: no second job for the same version.
      const before = await queue.queue.getJobCountByTypes('waiting', 'delayed', 'active');
      await sweep.sweep();
      expect(await queue.queue.getJobCountByTypes('waiting', 'delayed', 'active')).toBe(before);
    } finally {
      await queue.queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
