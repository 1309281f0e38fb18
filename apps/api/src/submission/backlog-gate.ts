import { AppError } from '../app-error.ts';

/** Limits of {@link createBacklogGate}. */
export type BacklogGateOptions = {
  /**
   * Answer jobs waiting to start (waiting, prioritized and delayed, across the fleet) at which
   * new questions are refused whatever the drain rate; 0 turns the gate off.
   */
  maxWaiting: number;
  /**
   * Longest estimated wait for a worker (backlog ÷ the fleet's measured drain rate) at which a
   * new question is still accepted, ms; 0 turns the wait check off (the count cap still holds).
   */
  maxWaitMs: number;
  /** How old the fleet's figures may get before they are read again, ms. */
  refreshMs: number;
};

/** Why the backlog gate refused: the count cap, or the estimated wait. */
export type BacklogRefusal = 'backlog' | 'backlog_wait';

/** One read of the answer queue, as Redis holds it. */
export type BacklogReading = {
  /** Jobs waiting to start (waiting, prioritized, delayed). */
  waiting: number;
  /** Jobs the fleet has finished (completed or failed) since the queue's metrics began; only ever grows. */
  finished: number;
};

/** What the gate reads and reports; injected so it is testable without a queue. */
export type BacklogGateDeps = {
  /** The answer queue's backlog and finished count (a few commands, one round trip each). */
  readBacklog: () => Promise<BacklogReading>;
  now: () => number;
  /**
   * Called once per refusal with its reason, `backlog` (the count cap) or `backlog_wait` (the
   * estimated wait), e.g. to count it in `assistant_overload_refusals_total{reason}`.
   */
  onRefusal?: (reason: BacklogRefusal) => void;
  /** Source of jitter in [0, 1); `Math.random` by default. */
  random?: () => number;
};

// The drain rate is measured over the last DRAIN_WINDOW_MS of readings taken while jobs were
// waiting (the workers saturated, so finishing as fast as they can), and trusted once it spans
// MIN_DRAIN_SPAN_MS. While the queue is empty, completions measure demand, not capacity: the
// last rate measured busy stands.
const DRAIN_WINDOW_MS = 5_000;
const MIN_DRAIN_SPAN_MS = 2_000;
// Below this many waiting jobs the wait check never refuses: a short queue is no overload, and a
// rate measured on it is demand-bound.
const MIN_WAITING_FOR_WAIT_CHECK = 64;
// Retry-After of a refusal: the time the backlog needs to drain to the limit, within these
// bounds, plus up to JITTER_S so refused clients do not all come back at once.
const MIN_RETRY_S = 1;
const MAX_RETRY_S = 30;
const JITTER_S = 3;

/**
 * Admission by backlog: a question that would wait longer than `maxWaitMs` for a worker (the
 * backlog divided by the rate the fleet has been finishing jobs), or queue behind `maxWaiting`
 * others, is refused at once (503 `overloaded`, `Retry-After` the time to drain to the limit)
 * instead of being accepted and answered a minute later, or not within the client's patience.
 *
 * The check never waits on Redis: it uses the last reading (at most `refreshMs` old, read in
 * the background, one read at a time) plus the questions this process let through since, counted
 * when they pass the check (not when their job lands, so the submits in progress of a burst count
 * too), so a burst between two reads cannot overshoot by more than what the other API processes
 * let through meanwhile. A question let through that is then refused or fails stays counted
 * until the next read.
 * Until the first read, and when a read fails, the last figures stand (admission itself fails
 * closed when Redis is down). Until a drain rate has been measured (a fresh fleet's first burst)
 * only the count cap applies.
 */
export function createBacklogGate(options: BacklogGateOptions, deps: BacklogGateDeps) {
  const random = deps.random ?? Math.random;
  let known = 0;
  let acceptedSinceRead = 0;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading = false;
  // Readings taken while jobs waited, oldest first, within DRAIN_WINDOW_MS of the newest.
  let busy: { at: number; finished: number }[] = [];
  let lastFinished: number | undefined;
  /** Jobs per ms the fleet finished while saturated; undefined until measured. */
  let drainPerMs: number | undefined;

  function observe(at: number, reading: BacklogReading): void {
    // A finished count that went back (the queue's metrics were reset) starts the window afresh.
    if (lastFinished !== undefined && reading.finished < lastFinished) busy = [];
    lastFinished = reading.finished;
    if (reading.waiting === 0) {
      busy = [];
      return;
    }
    busy.push({ at, finished: reading.finished });
    while (busy.length > 2 && at - (busy[0]?.at ?? at) > DRAIN_WINDOW_MS) busy.shift();
    const first = busy[0];
    if (first && at - first.at >= MIN_DRAIN_SPAN_MS)
      drainPerMs = (reading.finished - first.finished) / (at - first.at);
  }

  function refresh(): void {
    if (reading) return;
    reading = true;
    const started = deps.now();
    const acceptedBefore = acceptedSinceRead;
    deps.readBacklog().then(
      (result) => {
        known = result.waiting;
        // Questions accepted while the read was in flight may be missing from its count.
        acceptedSinceRead -= acceptedBefore;
        readAt = started;
        reading = false;
        observe(started, result);
      },
      () => {
        readAt = started;
        reading = false;
      },
    );
  }

  function refuse(reason: BacklogRefusal, message: string, retryAfterS: number): never {
    deps.onRefusal?.(reason);
    throw new AppError('overloaded', message, {
      status: 503,
      retryAfter: Math.round(retryAfterS) + Math.floor(random() * (JITTER_S + 1)),
    });
  }

  return {
    /** Throws 503 `overloaded` when the backlog is too long, else counts the question in; call before admitting a new job. */
    check(): void {
      if (options.maxWaiting === 0) return;
      if (deps.now() - readAt >= options.refreshMs) refresh();
      const backlog = known + acceptedSinceRead;
      if (backlog >= options.maxWaiting) {
        refuse(
          'backlog',
          `${options.maxWaiting} questions are already waiting for a worker; retry shortly`,
          2,
        );
      }
      // A rate of 0 (nothing finished in the window: workers restarting, or all stuck) says
      // nothing about the wait once they are back, so only the count cap holds then.
      if (options.maxWaitMs > 0 && drainPerMs && backlog >= MIN_WAITING_FOR_WAIT_CHECK) {
        const waitMs = backlog / drainPerMs;
        if (waitMs > options.maxWaitMs) {
          const drainS = (backlog - drainPerMs * options.maxWaitMs) / drainPerMs / 1000;
          refuse(
            'backlog_wait',
            `the wait for a worker is about ${Math.ceil(waitMs / 1000)} s, over the ${options.maxWaitMs / 1000} s limit; retry later`,
            Math.min(MAX_RETRY_S, Math.max(MIN_RETRY_S, drainS)),
          );
        }
      }
      acceptedSinceRead += 1;
    },
    /** The gate's current estimate of the backlog. */
    estimate: () => known + acceptedSinceRead,
    /** The fleet's drain rate while saturated, jobs/s; undefined until measured. */
    drainRate: () => (drainPerMs === undefined ? undefined : drainPerMs * 1000),
  };
}

/** The backlog gate's interface. */
export type BacklogGate = ReturnType<typeof createBacklogGate>;
