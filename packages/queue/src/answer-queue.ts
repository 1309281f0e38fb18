import type { AnswerJob } from '@assistant/contracts';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Keys, QUEUE_NAMES } from './keys.ts';

/** Retry and retention policy of answer jobs. */
export type AnswerQueueOptions = {
  /** @defaultValue 3 */
  attempts: number;
  /** First retry delay; doubles each attempt. @defaultValue 1000 */
  backoffMs: number;
  /** Seconds finished jobs are kept. @defaultValue 86400 */
  retentionSeconds: number;
};

/** The producer side of the `answer-query` queue, as the API needs it. */
export type AnswerQueue = {
  /** Enqueues once per query id: the job id is the query id, so a repeated add is a no-op. */
  enqueue(job: AnswerJob): Promise<void>;
  queue: Queue<AnswerJob>;
  close(): Promise<void>;
};

/** Creates the producer for answer jobs on an existing connection. */
export function createAnswerQueue(connection: Redis, keys: Keys, options: AnswerQueueOptions): AnswerQueue {
  const queue = new Queue<AnswerJob>(QUEUE_NAMES.answer, {
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
    async enqueue(job) {
      await queue.add('answer', job, { jobId: job.query_id });
    },
    async close() {
      await queue.close();
    },
  };
}
