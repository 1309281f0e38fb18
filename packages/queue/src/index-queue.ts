import type { IndexNoteJob } from '@assistant/contracts';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AnswerQueueOptions } from './answer-queue.ts';
import { type Keys, QUEUE_NAMES } from './keys.ts';

/** The producer side of the `index-notes` queue. */
export type IndexQueue = {
  /** Enqueues once per note version (job id `idx-<note>-v<version>`). */
  enqueue(jobs: IndexNoteJob[]): Promise<void>;
  queue: Queue<IndexNoteJob>;
  close(): Promise<void>;
};

/** Creates the producer for indexing jobs on an existing connection. */
export function createIndexQueue(connection: Redis, keys: Keys, options: AnswerQueueOptions): IndexQueue {
  const queue = new Queue<IndexNoteJob>(QUEUE_NAMES.indexNotes, {
    connection,
    prefix: keys.bullPrefix,
    defaultJobOptions: {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs },
      removeOnComplete: { age: options.retentionSeconds },
      removeOnFail: { age: options.retentionSeconds },
    },
  });
  return {
    queue,
    async enqueue(jobs) {
      if (jobs.length === 0) return;
      await queue.addBulk(
        jobs.map((data) => ({
          name: 'index',
          data,
          opts: { jobId: `idx-${data.note_id}-v${data.version}` },
        })),
      );
    },
    async close() {
      await queue.close();
    },
  };
}
