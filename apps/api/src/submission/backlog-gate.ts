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
// The ticket of a gate that is off: nothing to count.
const UNCOUNTED: BacklogTicket = { landed() {}, dropped() {} };

/**
 * What {@link BacklogGate.check} hands a question it lets through: settle it once, `landed` when
 * its job is in the queue, `dropped` when the submit ends without one (refused later, withdrawn,
 * joined another query, failed). Until then the question counts as in flight.
 */
export type BacklogTicket = { landed(): void; dropped(): void };

/**
 * Admission by backlog: a question that would wait longer than `maxWaitMs` for a worker (the
 * backlog divided by the rate the fleet has been finishing jobs), or queue behind `maxWaiting`
 * others, is refused at once (503 `overloaded`, `Retry-After` the time to drain to the limit)
 * instead of being accepted and answered a minute later, or not within the client's patience.
 *
 * The check never waits on Redis: it uses the last reading (at most `refreshMs` old, read in
 * the background, one read at a time) plus what this process let through that the reading cannot
 * hold: the questions still in flight (checked, job not yet in the queue: under load a submit
 * takes hundreds of ms from the check to its enqueue, and a burst has hundreds of them) and the
 * jobs that landed since the reading began. Counting only "let through since the last read" lost
 * every submit still in flight at each read, about ten times a second, and let a burst overshoot
 * the wait limit (docs/performance.md, "Seventh wave": in four side-by-side spikes the accepted
 * questions' first token came within 17–36 s against a 15 s limit, 13–17 s with this count).
 * A job that lands while a read is under way may be counted twice until the next read: the
 * error is on the side of refusing. Other API processes' submits in flight are not seen.
 * Until the first read, and when a read fails, the last figures stand (admission itself fails
 * closed when Redis is down). Until a drain rate has been measured (a fresh fleet's first burst)
 * only the count cap applies.
 */
export function createBacklogGate(options: BacklogGateOptions, deps: BacklogGateDeps) {
  const random = deps.random ?? Math.random;
  let known = 0;
  // Let through, job not yet in the queue (nor dropped).
  let inFlight = 0;
  // Jobs landed in all, and the count when the newest finished reading began.
  let landedTotal = 0;
  let landedBeforeRead = 0;
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
    const landedAtStart = landedTotal;
    deps.readBacklog().then(
      (result) => {
        known = result.waiting;
        // Jobs that landed while the read was in flight may be missing from its count.
        landedBeforeRead = landedAtStart;
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

  const estimate = () => known + inFlight + (landedTotal - landedBeforeRead);

  return {
    /**
     * Throws 503 `overloaded` when the backlog is too long, else counts the question in and
     * returns its ticket; call before admitting a new job, and settle the ticket once.
     */
    check(): BacklogTicket {
      if (options.maxWaiting === 0) return UNCOUNTED;
      if (deps.now() - readAt >= options.refreshMs) refresh();
      const backlog = estimate();
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
      inFlight += 1;
      let settled = false;
      const settle = (landed: boolean) => {
        if (settled) return;
        settled = true;
        inFlight -= 1;
        if (landed) landedTotal += 1;
      };
      return { landed: () => settle(true), dropped: () => settle(false) };
    },
    /** The gate's current estimate of the backlog. */
    estimate,
    /** The fleet's drain rate while saturated, jobs/s; undefined until measured. */
    drainRate: () => (drainPerMs === undefined ? undefined : drainPerMs * 1000),
  };
}

/** The backlog gate's interface. */
export type BacklogGate = ReturnType<typeof createBacklogGate>;
