import type { AnswerCache, AnswerPrefetch, CacheEpochs, CacheState, SingleFlight } from '@assistant/cache';
import {
  type AnswerSettings as AnswerSettingsOf,
  settingsUnderVariant,
  type TierLimits,
} from '@assistant/config';
import type { AssignedVariant } from '@assistant/contracts';
import {
  type KeyOwner,
  ledgerEntryOf,
  type NotesRepo,
  type QueriesRepo,
  type QueryRow,
  rowOfAnswer,
  servedRowCodec,
  servedRowOf,
  usageOf,
} from '@assistant/db';
import type { Flags } from '@assistant/flags';
import type { Admission, AdmissionResult } from '@assistant/limits';
import type { AnswerQueue, EventStream, ServedHitRecord, ServedHits } from '@assistant/queue';
import { DeadlineError, type Logger, type TraceCarrier, withDeadline, withSpan } from '@assistant/telemetry';
import { LRUCache } from 'lru-cache';
import { AppError } from '../app-error.ts';
import type { BacklogGate } from './backlog-gate.ts';
import { type CommitGate, createCommitGate } from './commit-gate.ts';
import type { PostgresGenerations } from './postgres-generations.ts';

/** Collaborators of {@link createQuerySubmitter}. */
export type SubmitterDeps = {
  queries: Pick<QueriesRepo, 'insertQueued' | 'insertCached' | 'findByIdempotencyKey' | 'find' | 'remove'>;
  notes: Pick<NotesRepo, 'versions'>;
  queue: Pick<AnswerQueue, 'enqueue'>;
  events: Pick<EventStream, 'append' | 'remove'>;
  admission: Pick<Admission, 'admit' | 'release'>;
  backlog: Pick<BacklogGate, 'check'>;
  epochs: Pick<CacheEpochs, 'readCacheState'>;
  answerCache: Pick<AnswerCache, 'get' | 'prefetch'>;
  /**
   * Each user's notes generation as Postgres has it (kept by listening, see
   * postgres-generations.ts). Known: a hit is served without reading Postgres, as the key's
   * generation proves its notes current. Absent or not listening: each hit checks the versions of
   * the notes it cites in Postgres.
   */
  postgresGenerations?: Pick<PostgresGenerations, 'current'>;
  /** Raises the Redis mirror of a user's generation found behind Postgres's (best effort). */
  publishGeneration?: (userId: string, generation: number) => Promise<unknown>;
  singleFlight: Pick<SingleFlight, 'idOf' | 'claim' | 'join' | 'release'>;
  newId: () => string;
  now: () => number;
  settings: AnswerSettingsOf;
  global: { perHour: number; dailyBudgetMicros: number };
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Runtime feature flags (in-process snapshot: no I/O). */
  flags: Pick<Flags, 'enabled'>;
  /** The experiment variant (or promoted default) a user's question is answered under. */
  assignExperiment: (userId: string) => AssignedVariant | undefined;
  /**
   * Write-behind of cache hits (`CACHE_HIT_WRITE_BEHIND`): a hit's row goes to the served-hits
   * log in Redis and reaches Postgres in a writer's batch. Absent: stored before the reply.
   */
  served?: Pick<ServedHits, 'recordOf' | 'withdraw'>;
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
  /** W3C trace context the job carries (`traceparent`, `tracestate`): the worker's spans join it. */
  trace: TraceCarrier;
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
// The whole submit: longer than any one step's own deadline, shorter than a patient client's
// timeout. A submit still short of its commit step then is refused and withdrawn.
const SUBMIT_TIMEOUT_MS = 6_000;
// A withdrawal step that fails (its dependency still down) is retried this often, backing off.
const WITHDRAW_ATTEMPTS = 6;
const WITHDRAW_BACKOFF_MS = 1_000;

// A cached answer is priced at nothing (its row is marked cached).
const FREE = { inputNanosPerToken: 0, outputNanosPerToken: 0 };

// Cache states remembered to guess the next one of a user (the answer is read alongside the state).
const REMEMBERED_STATES = 10_000;

// With the `rate_limits` flag off for a user, the windows and the in-flight cap admit everything.
const UNLIMITED = 1_000_000_000;

const submitDeadline = () => new DeadlineError('submit', SUBMIT_TIMEOUT_MS);

/** What a submit refused at its deadline throws once it has withdrawn (nobody hears it). */
const refusedLate = () => notAccepted('a dependency', submitDeadline());

/** The 503 of a submit that was not accepted: nothing of it stays, so a retry is safe. */
function notAccepted(what: string, cause: unknown): AppError {
  return new AppError(
    'dependency_unavailable',
    `${what} did not answer in time; the question was not accepted and is safe to retry`,
    { status: 503, retryAfter: 5, cause },
  );
}

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
 * the backlog gate (503 when too many questions already wait for a worker), admission (one Lua call for every window, the in-flight cap and the budgets), single-flight
 * (identical questions in flight share one query and one stream), then the queued row, the
 * `queued` event and the job. Anything not accepted is rolled back, so no question is lost and
 * none is half-accepted.
 */
export function createQuerySubmitter(deps: SubmitterDeps) {
  /**
   * The answer settings of a user's question: a variant's model and prompt, and the routing
   * table where the user's routing flag is on, are part of the cache key.
   */
  const settingsUnder = (userId: string, experiment: AssignedVariant | undefined) =>
    settingsUnderVariant(deps.settings, experiment, {
      routing: deps.flags.enabled('classification_routing', userId),
    });

  async function admit(
    submission: Submission,
    queryId: string,
    counts: 'full' | 'windows-only',
    record?: ServedHitRecord,
  ) {
    const userId = submission.owner.userId;
    // Flags off for this user: no request windows or in-flight cap, or no budget refusal (spend
    // is still recorded and settled; only the refusal is off).
    const rateLimited = deps.flags.enabled('rate_limits', userId);
    const budgeted = deps.flags.enabled('budgets', userId);
    const limits = rateLimited
      ? submission.limits
      : {
          ...submission.limits,
          perMinute: UNLIMITED,
          perHour: UNLIMITED,
          perDay: UNLIMITED,
          maxInFlight: UNLIMITED,
        };
    const result = await withSpan('assistant.admission', async (span) => {
      const admitted = await withDeadline(
        deps.admission.admit({
          userId,
          queryId,
          limits,
          global: rateLimited ? deps.global : { ...deps.global, perHour: UNLIMITED },
          ...(counts === 'windows-only'
            ? { inFlight: false, budget: false }
            : budgeted
              ? {}
              : { budget: false }),
          ...(record ? { record } : {}),
        }),
        REDIS_TIMEOUT_MS,
        'admission',
      );
      span.setAttributes({
        'admission.allowed': admitted.allowed,
        ...(admitted.allowed ? {} : { 'error.code': admitted.code }),
      });
      return admitted;
    });
    if (!result.allowed) throw refusal(result);
    return result;
  }

  /**
   * Undoes what a submit that was not accepted wrote: its row, stream, admission slot and marker
   * (each step a no-op when there is nothing of this submit's). Runs in the background, as the
   * answer is already given; a step whose dependency is still down is retried, then logged.
   */
  function withdraw(userId: string, id: string, flightId: string | undefined): void {
    const steps: Record<string, () => Promise<unknown>> = {
      ...(deps.served ? { served: () => deps.served!.withdraw(id) } : {}),
      row: () => deps.queries.remove(id),
      stream: () => deps.events.remove(id),
      admission: () => deps.admission.release(userId, id),
      ...(flightId ? { marker: () => deps.singleFlight.release(userId, flightId, id) } : {}),
    };
    for (const [what, step] of Object.entries(steps)) {
      void (async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            await step();
            return;
          } catch (error) {
            if (attempt >= WITHDRAW_ATTEMPTS) {
              deps.logger.error({ err: error, query_id: id, what }, 'withdrawing a refused submit failed');
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, WITHDRAW_BACKOFF_MS * 2 ** (attempt - 1)));
          }
        }
      })();
    }
  }

  async function answerFromCache(
    submission: Submission,
    lookup: { state: CacheState; generationProven: boolean; prefetched: AnswerPrefetch | undefined },
    id: string,
    gate: CommitGate,
    experiment: AssignedVariant | undefined,
  ): Promise<SubmitOutcome | undefined> {
    const userId = submission.owner.userId;
    const hit = await withSpan('assistant.cache_lookup', async (span) => {
      const found = await deps.answerCache.get(
        {
          state: lookup.state,
          query: submission.query,
          settings: settingsUnder(userId, experiment),
          // A generation Postgres vouches for proves the cited notes current (checked at store).
          ...(lookup.generationProven
            ? {}
            : { currentVersions: (noteIds: string[]) => deps.notes.versions(userId, noteIds) }),
        },
        lookup.prefetched,
      );
      span.setAttributes({ 'cache.tier': 'exact', 'cache.hit': found !== undefined });
      return found;
    });
    if (!hit) return undefined;
    const served = {
      id,
      userId,
      query: submission.query,
      requestId: submission.requestId,
      ...(experiment ? { experiment: { id: experiment.experiment_id, variant: experiment.variant } } : {}),
      // Served, not generated: no tokens, no cost; the cached answer's own fallback record
      // describes how it was first made, not this serving, so it is not copied.
      result: rowOfAnswer(
        { ...hit, fallback: undefined, escalation: undefined, usage: usageOf(0, 0), cost_usd: 0 },
        { costMicros: 0, cached: true },
      ),
    };
    // Write-behind: the admission that counts the hit also logs it (one script call): the log
    // entry is the commit point; a writer stores row and ledger entry. A hit with an
    // Idempotency-Key is stored at once, so a replay of it finds its row.
    let row: QueryRow;
    let admission: AdmissionResult;
    if (deps.served && submission.idempotencyKey === undefined) {
      row = servedRowOf(served, new Date(deps.now()));
      admission = await admit(
        submission,
        id,
        'windows-only',
        deps.served.recordOf(id, servedRowCodec.encode(row)),
      );
    } else {
      admission = await admit(submission, id, 'windows-only');
      row = await deps.queries.insertCached(
        { ...served, idempotencyKey: submission.idempotencyKey },
        (stored) => ledgerEntryOf(stored, FREE, deps.now()),
      );
    }
    // The row landed after the deadline answered 503 (Postgres hung, then came back): take it
    // back with its ledger entry, for an answer nobody received.
    if (!gate.commit()) {
      withdraw(userId, id, undefined);
      throw refusedLate();
    }
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
   * Admits and places one query: the row, the marker, then (the commit step) the `queued` event
   * and the job. Returns `undefined`, with everything withdrawn, when an identical submit claimed
   * the marker first; throws, with everything withdrawn, when the deadline refused it first.
   */
  async function place(
    submission: Submission,
    id: string,
    flightId: string | undefined,
    gate: CommitGate,
    experiment: AssignedVariant | undefined,
  ): Promise<SubmitOutcome | undefined> {
    const userId = submission.owner.userId;
    // A new job: refused before anything is written when too many already wait for a worker.
    // Let through, it counts as in flight until its job lands or the submit ends without one.
    const ticket = deps.backlog.check();
    let landed = false;
    try {
      const admission = await admit(submission, id, 'full');
      let placed: Awaited<ReturnType<QueriesRepo['insertQueued']>>;
      try {
        placed = await deps.queries.insertQueued({
          id,
          userId,
          query: submission.query,
          requestId: submission.requestId,
          idempotencyKey: submission.idempotencyKey,
          ...(experiment
            ? { experiment: { id: experiment.experiment_id, variant: experiment.variant } }
            : {}),
        });
      } catch (error) {
        withdraw(userId, id, undefined);
        throw error;
      }
      const { row, created } = placed;
      if (!created) {
        // The same Idempotency-Key raced in on another request, which placed the query.
        await deps.admission.release(userId, id);
        return { kind: 'accepted', id: row.id, status: row.status, how: 'replayed' };
      }
      // The row exists before the marker names it, so whoever reads the marker finds the row.
      if (flightId && !(await deps.singleFlight.claim(userId, flightId, id))) {
        withdraw(userId, id, undefined);
        return undefined;
      }
      // The one decision: past this line the job is enqueued or everything is withdrawn.
      if (!gate.commit()) {
        withdraw(userId, id, flightId);
        throw refusedLate();
      }
      try {
        await withSpan('assistant.enqueue', { kind: 'producer' }, () =>
          withDeadline(
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
                trace: submission.trace,
                enqueued_at: deps.now(),
                ...(experiment ? { experiment } : {}),
              });
            })(),
            REDIS_TIMEOUT_MS,
            'enqueue',
          ),
        );
      } catch (error) {
        // Not accepted: undo, so nothing waits for a job that does not exist and a retry with the
        // same Idempotency-Key starts afresh.
        withdraw(userId, id, flightId);
        throw notAccepted('the queue', error);
      }
      landed = true;
      return { kind: 'accepted', id, status: 'queued', how: 'enqueued', admission };
    } finally {
      if (landed) ticket.landed();
      else ticket.dropped();
    }
  }

  const newQueryId = () => `q_${deps.newId().replaceAll('-', '')}`;
  const lastStates = new LRUCache<string, CacheState>({ max: REMEMBERED_STATES });

  async function run(submission: Submission, gate: CommitGate): Promise<SubmitOutcome> {
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
    const experiment = deps.assignExperiment(userId);
    const settings = settingsUnder(userId, experiment);
    const cacheable = !submission.bypassCache && deps.flags.enabled('exact_cache', userId);
    // The answer under the user's last state is read in the same round trip as the state itself
    // (auto-pipelined); it is used only if the state read proves the guess right.
    const remembered = `${submission.owner.tier}:${userId}`;
    const guess = cacheable ? lastStates.get(remembered) : undefined;
    const prefetched = guess
      ? deps.answerCache.prefetch({ state: guess, query: submission.query, settings })
      : undefined;
    const inPostgres = deps.postgresGenerations?.current(userId);
    const mirrored = await withDeadline(
      deps.epochs.readCacheState(userId, submission.owner.tier),
      REDIS_TIMEOUT_MS,
      'cache state',
    );
    const known =
      inPostgres instanceof Promise
        ? await withDeadline(inPostgres, REDIS_TIMEOUT_MS, 'generation')
        : inPostgres;
    // The Redis mirror never runs ahead of Postgres; behind it (a bump it missed), Postgres's wins.
    const state =
      known !== undefined && known > mirrored.generation ? { ...mirrored, generation: known } : mirrored;
    if (state !== mirrored) {
      void deps.publishGeneration?.(userId, state.generation).catch((err: unknown) => {
        deps.logger.warn({ err, userId }, 'raising a stale notes generation mirror failed');
      });
    }
    lastStates.set(remembered, state);
    if (cacheable) {
      const lookup = { state, generationProven: known !== undefined, prefetched };
      const cached = await answerFromCache(submission, lookup, id, gate, experiment);
      if (cached) return cached;
    }

    // `no-store` asks for a fresh answer: it neither joins another query nor lets others join it.
    const flightId = submission.bypassCache
      ? undefined
      : deps.singleFlight.idOf(state, submission.query, settings);
    if (flightId) {
      const joined = await joinInFlight(submission, flightId);
      if (joined) return joined;
    }
    for (let placement = 1; ; placement++) {
      const placed = await place(submission, id, flightId, gate, experiment);
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
  }

  /**
   * Submits within {@link SUBMIT_TIMEOUT_MS}. At the deadline a submit short of its commit step
   * is answered 503 and withdraws itself when its hung step returns (see {@link createCommitGate});
   * one whose enqueue is under way is awaited (that step has its own deadline), so a 503 always
   * means nothing was accepted and a 202 is never lost.
   */
  return function submitQuery(submission: Submission): Promise<SubmitOutcome> {
    const gate = createCommitGate();
    return new Promise<SubmitOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (gate.cancel()) reject(notAccepted('a dependency', submitDeadline()));
      }, SUBMIT_TIMEOUT_MS);
      // After a 503 the submit's own outcome (its withdrawal) settles a settled promise: ignored.
      run(submission, gate)
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  };
}

/** The submitter's interface. */
export type QuerySubmitter = ReturnType<typeof createQuerySubmitter>;
