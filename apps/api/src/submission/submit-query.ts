import type { AnswerCache, AnswerSettings, CacheEpochs, CacheState, SingleFlight } from '@assistant/cache';
import type { TierLimits } from '@assistant/config';
import {
  type KeyOwner,
  ledgerEntryOf,
  type NotesRepo,
  type QueriesRepo,
  type QueryRow,
  rowOfAnswer,
  usageOf,
} from '@assistant/db';
import type { Admission, AdmissionResult } from '@assistant/limits';
import type { AnswerQueue, CostQueue, EventStream } from '@assistant/queue';
import { withDeadline } from '@assistant/telemetry';
import { AppError } from '../app-error.ts';

/** Collaborators of {@link createQuerySubmitter}. */
export type SubmitterDeps = {
  queries: Pick<QueriesRepo, 'insertQueued' | 'insertCached' | 'findByIdempotencyKey' | 'find' | 'remove'>;
  notes: Pick<NotesRepo, 'versions'>;
  queue: Pick<AnswerQueue, 'enqueue'>;
  costQueue: Pick<CostQueue, 'enqueue'>;
  events: Pick<EventStream, 'append' | 'remove'>;
  admission: Pick<Admission, 'admit' | 'release'>;
  epochs: Pick<CacheEpochs, 'readCacheState'>;
  answerCache: Pick<AnswerCache, 'get'>;
  singleFlight: Pick<SingleFlight, 'idOf' | 'claim' | 'join' | 'release'>;
  newId: () => string;
  now: () => number;
  settings: AnswerSettings;
  global: { perHour: number; dailyBudgetMicros: number };
};

/** One submission as the route hands it over. */
export type Submission = {
  owner: KeyOwner;
  limits: TierLimits;
  query: string;
  requestId: string;
  idempotencyKey?: string;
  /** `Cache-Control: no-store` (or `no-cache`): skip the answer cache. */
  bypassCache: boolean;
  traceparent?: string;
};

/** What became of a submission. */
export type SubmitOutcome =
  | {
      kind: 'accepted';
      id: string;
      status: QueryRow['status'];
      how: 'enqueued' | 'replayed' | 'joined';
      admission?: AdmissionResult;
    }
  | { kind: 'cached'; row: QueryRow; admission: AdmissionResult };

// A submit that loses the marker race twice to queries nobody can join is answered 409.
const MAX_PLACEMENTS = 2;
// Redis steps of a submission get this long before the request is answered 503.
const REDIS_TIMEOUT_MS = 3_000;

function refusal(result: Extract<AdmissionResult, { allowed: false }>): AppError {
  const messages = {
    rate_limited: `rate limit reached (${result.limit})`,
    too_many_in_flight: 'too many questions in flight; wait for one to finish',
    budget_exceeded: `daily budget spent (${result.limit})`,
  } as const;
  return new AppError(result.code, messages[result.code], {
    status: 429,
    retryAfter: result.retryAfterSeconds,
    headers: result.headers,
    details: { limit: result.limit },
  });
}

/**
 * Admits and places a question: idempotent replay, exact-cache fast path (200 with no job),
 * admission (one Lua call for every window, the in-flight cap and the budgets), single-flight
 * (identical questions in flight share one query and one stream), then the queued row, the
 * `queued` event and the job. Anything not accepted is rolled back, so no question is lost and
 * none is half-accepted.
 */
export function createQuerySubmitter(deps: SubmitterDeps) {
  async function admit(submission: Submission, queryId: string, counts: 'full' | 'windows-only') {
    const result = await withDeadline(
      deps.admission.admit({
        userId: submission.owner.userId,
        queryId,
        limits: submission.limits,
        global: deps.global,
        ...(counts === 'windows-only' ? { inFlight: false, budget: false } : {}),
      }),
      REDIS_TIMEOUT_MS,
      'admission',
    );
    if (!result.allowed) throw refusal(result);
    return result;
  }

  async function answerFromCache(
    submission: Submission,
    state: CacheState,
    id: string,
  ): Promise<SubmitOutcome | undefined> {
    const userId = submission.owner.userId;
    const hit = await deps.answerCache.get({
      state,
      query: submission.query,
      settings: deps.settings,
      currentVersions: (noteIds) => deps.notes.versions(userId, noteIds),
    });
    if (!hit) return undefined;
    const admission = await admit(submission, id, 'windows-only');
    const row = await deps.queries.insertCached({
      id,
      userId,
      query: submission.query,
      requestId: submission.requestId,
      idempotencyKey: submission.idempotencyKey,
      // Served, not generated: no tokens, no cost; the cached answer's own fallback record
      // describes how it was first made, not this serving, so it is not copied.
      result: rowOfAnswer(
        { ...hit, fallback: undefined, usage: usageOf(0, 0), cost_usd: 0 },
        { costMicros: 0, cached: true },
      ),
    });
    // A cached answer is priced at nothing (its row is marked cached).
    const ledger = ledgerEntryOf(row, { inputNanosPerToken: 0, outputNanosPerToken: 0 }, deps.now());
    // The answer is already stored; a ledger job that cannot be queued now is not worth a 503.
    await withDeadline(deps.costQueue.enqueue(ledger), REDIS_TIMEOUT_MS, 'ledger enqueue').catch(() => {});
    return { kind: 'cached', row, admission };
  }

  async function joinInFlight(submission: Submission, flightId: string): Promise<SubmitOutcome | undefined> {
    const userId = submission.owner.userId;
    const existingId = await deps.singleFlight.join(userId, flightId);
    if (!existingId) return undefined;
    const existing = await deps.queries.find(existingId);
    if (!existing || existing.userId !== userId) return undefined;
    // A leader that already succeeded answered this very question (the flight id covers the
    // user's notes generation, the purge epochs and the settings): its answer is the one to share.
    if (existing.status === 'failed') return undefined;
    const admission = await admit(submission, existingId, 'windows-only');
    return { kind: 'accepted', id: existingId, status: existing.status, how: 'joined', admission };
  }

  /**
   * Admits and places one query: the row, the marker, the `queued` event and the job. Returns
   * `undefined`, with everything withdrawn, when an identical submit claimed the marker first.
   */
  async function place(
    submission: Submission,
    id: string,
    flightId: string | undefined,
  ): Promise<SubmitOutcome | undefined> {
    const userId = submission.owner.userId;
    const admission = await admit(submission, id, 'full');
    const { row, created } = await deps.queries.insertQueued({
      id,
      userId,
      query: submission.query,
      requestId: submission.requestId,
      idempotencyKey: submission.idempotencyKey,
    });
    if (!created) {
      // The same Idempotency-Key raced in on another request, which placed the query.
      await deps.admission.release(userId, id);
      return { kind: 'accepted', id: row.id, status: row.status, how: 'replayed' };
    }
    // The row exists before the marker names it, so whoever reads the marker finds the row.
    if (flightId && !(await deps.singleFlight.claim(userId, flightId, id))) {
      await Promise.allSettled([deps.queries.remove(id), deps.admission.release(userId, id)]);
      return undefined;
    }
    try {
      await withDeadline(
        (async () => {
          // `queued` goes first so it precedes anything the worker appends.
          await deps.events.append(id, { type: 'queued', query_id: id });
          await deps.queue.enqueue({
            query_id: id,
            user_id: userId,
            request_id: submission.requestId,
            tier: submission.owner.tier,
            limits: {
              maxRunning: submission.limits.maxRunning,
              dailyBudgetMicros: submission.limits.dailyBudgetMicros,
            },
            flight_id: flightId,
            bypass_cache: submission.bypassCache,
            trace: submission.traceparent ? { traceparent: submission.traceparent } : {},
            enqueued_at: deps.now(),
          });
        })(),
        REDIS_TIMEOUT_MS,
        'enqueue',
      );
    } catch (error) {
      // Not accepted: undo, so nothing waits for a job that does not exist and a retry with the
      // same Idempotency-Key starts afresh.
      await Promise.allSettled([
        deps.queries.remove(id),
        deps.events.remove(id),
        deps.admission.release(userId, id),
        flightId ? deps.singleFlight.release(userId, flightId, id) : undefined,
      ]);
      throw new AppError('dependency_unavailable', 'the queue is unavailable, retry shortly', {
        status: 503,
        retryAfter: 5,
        cause: error,
      });
    }
    return { kind: 'accepted', id, status: 'queued', how: 'enqueued', admission };
  }

  const newQueryId = () => `q_${deps.newId().replaceAll('-', '')}`;

  return async function submitQuery(submission: Submission): Promise<SubmitOutcome> {
    const userId = submission.owner.userId;
    if (submission.idempotencyKey) {
      const prior = await deps.queries.findByIdempotencyKey(userId, submission.idempotencyKey);
      if (prior) {
        if (prior.query !== submission.query) {
          throw new AppError(
            'idempotency_key_reused',
            'this Idempotency-Key was used with a different query',
            {
              status: 409,
            },
          );
        }
        return { kind: 'accepted', id: prior.id, status: prior.status, how: 'replayed' };
      }
    }

    let id = newQueryId();
    const state = await withDeadline(
      deps.epochs.readCacheState(userId, submission.owner.tier),
      REDIS_TIMEOUT_MS,
      'cache state',
    );
    if (!submission.bypassCache) {
      const cached = await answerFromCache(submission, state, id);
      if (cached) return cached;
    }

    // `no-store` asks for a fresh answer: it neither joins another query nor lets others join it.
    const flightId = submission.bypassCache
      ? undefined
      : deps.singleFlight.idOf(state, submission.query, deps.settings);
    if (flightId) {
      const joined = await joinInFlight(submission, flightId);
      if (joined) return joined;
    }
    for (let placement = 1; ; placement++) {
      const placed = await place(submission, id, flightId);
      if (placed) return placed;
      // Lost the marker to an identical submit (so there is a flight): join the winner.
      const winner = flightId && (await joinInFlight(submission, flightId));
      if (winner) return winner;
      if (!flightId || placement >= MAX_PLACEMENTS) break;
      // The marker names a query nobody can join (it failed, or its enqueue was rolled back):
      // clear it, if it still names that query, and place ours afresh.
      const stale = await deps.singleFlight.join(userId, flightId);
      if (stale) await deps.singleFlight.release(userId, flightId, stale);
      id = newQueryId();
    }
    throw new AppError('conflict', 'an identical question is being placed; retry', {
      status: 409,
      retryAfter: 1,
    });
  };
}

/** The submitter's interface. */
export type QuerySubmitter = ReturnType<typeof createQuerySubmitter>;
