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
