import type { NotesRepo } from '@assistant/db';
import type { IndexQueue } from '@assistant/queue';
import type { Logger } from '@assistant/telemetry';

/** Options of {@link createPendingSweep}. */
export type PendingSweepOptions = {
  /** A note pending longer than this is re-enqueued. @defaultValue 60000 */
  olderThanMs: number;
  /** @defaultValue 60000 */
  intervalMs: number;
  /** Notes per sweep. @defaultValue 500 */
  batch: number;
};

/**
 * Re-enqueues notes stuck in `pending` (saved while Redis was down, or their job was lost).
 * Job ids are per note version, so a note whose job still exists is not indexed twice.
 */
export function createPendingSweep(
  deps: {
    notes: Pick<NotesRepo, 'findStalePending'>;
    indexQueue: Pick<IndexQueue, 'enqueue'>;
    logger: Logger;
    now: () => number;
  },
  options: PendingSweepOptions,
) {
  let timer: NodeJS.Timeout | undefined;
  async function sweep(): Promise<number> {
    const stale = await deps.notes.findStalePending(
      new Date(deps.now() - options.olderThanMs),
      options.batch,
    );
    await deps.indexQueue.enqueue(
      stale.map((n) => ({ user_id: n.userId, note_id: n.id, version: n.version })),
    );
    if (stale.length > 0) deps.logger.info({ count: stale.length }, 're-enqueued pending notes');
    return stale.length;
  }
  return {
    sweep,
    start() {
      timer = setInterval(() => {
        sweep().catch((err: unknown) => deps.logger.warn({ err }, 'pending-note sweep failed'));
      }, options.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
