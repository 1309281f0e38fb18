/** Every queue the service runs. */
export const QUEUE_NAMES = {
  answer: 'answer-query',
  indexNotes: 'index-notes',
  settleCosts: 'settle-costs',
} as const;

/**
 * Every Redis key the service writes is built here, under one prefix, so deployments and test
 * files can share a Redis without touching each other's keys.
 *
 * @example
 * const keys = createKeys('as');
 * keys.events('q_123'); // 'as:events:{q_123}'
 */
export function createKeys(prefix: string) {
  return {
    prefix,
    /** BullMQ's own key prefix (its queues live under `${bullPrefix}:${queueName}:*`). */
    bullPrefix: `${prefix}:bull`,
    /** Redis Stream of one query's events. The hash tag keeps it on one slot in a cluster. */
    events: (queryId: string) => `${prefix}:events:{${queryId}}`,
    /** Pattern that matches every key of this prefix (for tests and purges, never on a hot path). */
    all: () => `${prefix}:*`,
    /** Counter bumped on every note change of a user; part of every answer-cache key. */
    notesGeneration: (userId: string) => `${prefix}:notes-gen:{${userId}}`,
    // --- limits (packages/limits) ---
    // --- caches (packages/cache) ---
    // --- llm resilience (packages/llm) ---
  };
}

/** The key builder's type. */
export type Keys = ReturnType<typeof createKeys>;
