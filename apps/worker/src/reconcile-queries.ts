import type { AnswerJob } from '@assistant/contracts';
import type { QueriesRepo, QueryRow } from '@assistant/db';
import type { Logger } from '@assistant/telemetry';
import type { Failure } from './answer-processor.ts';

/** Options of {@link createQueryReconciler}. */
export type QueryReconcilerOptions = {
  /** How often each worker looks. @defaultValue 15000 */
  intervalMs: number;
  /** An open query younger than this is left alone (its submit may still be enqueuing). @defaultValue 60000 */
  olderThanMs: number;
  /** An open query older than this is ended with a `timeout` error, whatever its job. @defaultValue 900000 */
  maxAgeMs: number;
  /** Queries looked at per pass. @defaultValue 200 */
  batch: number;
};

/** Collaborators of {@link createQueryReconciler}. */
export type QueryReconcilerDeps = {
  queries: Pick<QueriesRepo, 'findOpenCreatedBefore'>;
  /**
   * The BullMQ state of a query's job (`waiting`, `active`, `delayed`, …), or `unknown` when
   * there is none (job ids are query ids).
   */
  jobState: (queryId: string) => Promise<string>;
  /** Removes a finished job whose query is still open, so it can be enqueued again. */
  removeJob: (queryId: string) => Promise<void>;
  enqueue: (job: AnswerJob) => Promise<void>;
  /** The payload fields that come from the asker, not the row: tier and effective limits. */
  askerOf: (userId: string) => Promise<Pick<AnswerJob, 'tier' | 'limits'> | undefined>;
  /** Ends a query with one terminal error (the processor's conditional `failQuery`). */
  fail: (job: Pick<AnswerJob, 'query_id' | 'user_id'>, failure: Failure) => Promise<void>;
  /** The experiment variant recorded on the row, as the job carries it (its prompt and model). */
  variantOf?: (row: QueryRow) => Promise<AnswerJob['experiment']>;
  onReconciled?: (action: 'requeued' | 'expired') => void;
  logger: Logger;
  now: () => number;
  random: () => number;
};

// Job states in which BullMQ will still run (or is running) the job.
const LIVE = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Postgres is the record of every accepted question; Redis may lose jobs (a restart with no
 * persistence, a failover that drops the last writes). Each worker periodically looks at the
 * oldest open queries and, for one whose job is gone (or finished while the row stayed open),
 * enqueues it again under the same job id; one past `maxAgeMs` is ended with `timeout`. Every
 * worker may run this at once: BullMQ ignores an add whose job id exists, and the row's
 * conditional updates keep exactly one answer or one error per query.
 */
export function createQueryReconciler(deps: QueryReconcilerDeps, options: QueryReconcilerOptions) {
  let timer: NodeJS.Timeout | undefined;

  async function reconcile(row: QueryRow): Promise<'requeued' | 'expired' | undefined> {
    const now = deps.now();
    if (now - row.createdAt.getTime() > options.maxAgeMs) {
      await deps.fail(
        { query_id: row.id, user_id: row.userId },
        { code: 'timeout', message: 'the question was not answered in time' },
      );
      return 'expired';
    }
    const state = await deps.jobState(row.id);
    if (LIVE.has(state)) return undefined;
    const asker = await deps.askerOf(row.userId);
    if (!asker) return undefined; // the user was deleted: its rows go with it
    if (state !== 'unknown') await deps.removeJob(row.id);
    const experiment = await deps.variantOf?.(row);
    await deps.enqueue({
      query_id: row.id,
      user_id: row.userId,
      request_id: row.requestId,
      ...asker,
      // The row does not keep `no-store`; a re-run may use the caches (its answer is still fresh).
      bypass_cache: false,
      trace: {},
      enqueued_at: now,
      ...(experiment ? { experiment } : {}),
    });
    return 'requeued';
  }

  /** One pass over the oldest open queries; returns what it did to each. */
  async function runOnce(): Promise<{ requeued: number; expired: number }> {
    const open = await deps.queries.findOpenCreatedBefore(
      new Date(deps.now() - options.olderThanMs),
      options.batch,
    );
    const done = { requeued: 0, expired: 0 };
    for (const row of open) {
      const action = await reconcile(row);
      if (!action) continue;
      done[action] += 1;
      deps.onReconciled?.(action);
      deps.logger.warn({ queryId: row.id, action }, 'reconciled an open query that had lost its job');
    }
    return done;
  }

  function schedule(): void {
    // Jittered, so many workers do not all look at the same moment.
    timer = setTimeout(
      () => {
        runOnce()
          .catch((err: unknown) => deps.logger.warn({ err }, 'query reconciliation failed'))
          .finally(() => {
            if (timer) schedule();
          });
      },
      options.intervalMs * (0.5 + deps.random()),
    );
    timer.unref();
  }

  return {
    runOnce,
    start: schedule,
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
