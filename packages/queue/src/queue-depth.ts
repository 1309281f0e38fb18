import type { Queue } from 'bullmq';

/** The gauge the depths are written to (`metrics.queueJobs`). */
export type QueueDepthGauge = { set(labels: { queue: string; state: string }, value: number): void };

/**
 * Reads each queue's job counts by state into `gauge` when called (before a Prometheus scrape):
 * the backlog alert's input. Any one worker's figure is the queue's, since all read one Redis.
 *
 * @example
 * const readDepth = createQueueDepthGauge([answerQueue, indexQueue.queue], metrics.queueJobs);
 * createHealthRoutes({ ..., beforeScrape: () => readDepth().catch(warn) });
 */
export function createQueueDepthGauge(
  queues: Pick<Queue, 'name' | 'getJobCounts'>[],
  gauge: QueueDepthGauge,
) {
  return async function readQueueDepth(): Promise<void> {
    for (const queue of queues) {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'prioritized');
      for (const [state, count] of Object.entries(counts)) gauge.set({ queue: queue.name, state }, count);
    }
  };
}

/**
 * Reads what the API's backlog gate needs of the answer queue: the jobs waiting to start, and
 * how many the fleet has finished (BullMQ's `completed` and `failed` metrics counts; the workers
 * record them, see `metrics` on the answer worker). Three short scripts on the queue's connection.
 */
export async function readBacklog(
  queue: Pick<Queue, 'getJobCounts' | 'getMetrics'>,
): Promise<{ waiting: number; finished: number }> {
  const [counts, completed, failed] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'delayed'),
    queue.getMetrics('completed', 0, 0),
    queue.getMetrics('failed', 0, 0),
  ]);
  return {
    waiting: Object.values(counts).reduce((sum, n) => sum + n, 0),
    finished: completed.meta.count + failed.meta.count,
  };
}
