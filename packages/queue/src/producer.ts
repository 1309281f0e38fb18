import type { AnswerJob, IndexNoteJob } from '@assistant/contracts';
import { Queue } from 'bullmq';
import { type Keys, QUEUE_NAMES } from './keys.ts';
import type { RedisClient } from './redis.ts';

/** Retry and retention policy of a queue's jobs. */
export type ProducerOptions = {
  /** @defaultValue 3 */
  attempts: number;
  /** First retry delay; doubles each attempt (BullMQ adds no jitter; our backoff strategy does). @defaultValue 1000 */
  backoffMs: number;
  /** Seconds finished jobs are kept. @defaultValue 86400 */
  retentionSeconds: number;
};

/** The producer side of one queue, as the API (or a worker) needs it. */
export type Producer<T> = {
  /** Enqueues each job once: its id is derived from the payload, so a repeated add is a no-op. */
  enqueue(jobs: T | T[]): Promise<void>;
  queue: Queue<T>;
  close(): Promise<void>;
};

/**
 * Creates a producer on an existing connection. Job ids come from the payload (a query id, a
 * note version), which makes every enqueue idempotent while the job is kept.
 */
export function createProducer<T>(
  name: string,
  connection: RedisClient,
  keys: Keys,
  options: ProducerOptions,
  jobId: (data: T) => string,
): Producer<T> {
  const queue = new Queue<T>(name, {
    connection,
    prefix: keys.bullPrefix(name),
    defaultJobOptions: {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs, jitter: 0.5 },
      removeOnComplete: { age: options.retentionSeconds },
      removeOnFail: { age: options.retentionSeconds },
    },
  });
  return {
    queue,
    async enqueue(jobs) {
      const list = Array.isArray(jobs) ? jobs : [jobs];
      if (list.length === 0) return;
      // biome-ignore lint/suspicious/noExplicitAny: BullMQ's name/data generics do not narrow here.
      await (queue as Queue<any>).addBulk(list.map((data) => ({ name, data, opts: { jobId: jobId(data) } })));
    },
    async close() {
      await queue.close();
    },
  };
}

/** `answer-query`: one job per query. */
export const createAnswerQueue = (connection: RedisClient, keys: Keys, options: ProducerOptions) =>
  createProducer<AnswerJob>(QUEUE_NAMES.answer, connection, keys, options, (d) => d.query_id);

/** `index-notes`: one job per note version (`idx-<note>-v<version>`). */
export const createIndexQueue = (connection: RedisClient, keys: Keys, options: ProducerOptions) =>
  createProducer<IndexNoteJob>(
    QUEUE_NAMES.indexNotes,
    connection,
    keys,
    options,
    (d) => `idx-${d.note_id}-v${d.version}`,
  );

export type AnswerQueue = Producer<AnswerJob>;
export type IndexQueue = Producer<IndexNoteJob>;
