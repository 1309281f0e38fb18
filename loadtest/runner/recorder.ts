import { type Percentiles, summarize } from './percentiles.ts';

/** What one run saw, question by question, before it is summarised. */
export function createRecorder() {
  const statuses: Record<string, number> = {};
  const transportErrors: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const ttft: number[] = [];
  const e2e: number[] = [];
  // Latency by kind of answer: a cache hit (answered in the submit) against one that went
  // through a worker; and how long a refused submit took to be refused.
  const cacheHitE2e: number[] = [];
  const generatedE2e: number[] = [];
  const refusal: number[] = [];
  let accepted = 0;
  let answered = 0;
  let cacheHits = 0;
  let neverFinished = 0;
  return {
    /** An HTTP response, by request name (`submit`, `events`, `poll`, `stream`), status and error code. */
    status(request: string, status: number, errorCode?: string): void {
      const key = errorCode ? `${request} ${status} ${errorCode}` : `${request} ${status}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
    },
    /** How long a submit answered 429 or 503 took, from its scheduled start. */
    refused(ms: number): void {
      refusal.push(ms);
    },
    transportError(request: string, kind: string): void {
      const key = `${request} ${kind}`;
      transportErrors[key] = (transportErrors[key] ?? 0) + 1;
    },
    /** A question the system took on (202, or 200 from cache). */
    accepted(): void {
      accepted++;
    },
    firstToken(ms: number): void {
      ttft.push(ms);
    },
    /** A question that reached its end: `succeeded`, `failed`, or the error code of its error event. */
    finished(outcome: string, ms: number, options: { cached?: boolean } = {}): void {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome === 'succeeded') {
        answered++;
        e2e.push(ms);
        if (options.cached) {
          cacheHits++;
          cacheHitE2e.push(ms);
        } else {
          generatedE2e.push(ms);
        }
      }
    },
    /** An accepted question whose stream or poll ended (or the run's time ran out) without an end. */
    neverFinished(): void {
      neverFinished++;
    },
    summary(): RunCounts {
      return {
        statuses,
        transportErrors,
        outcomes,
        accepted,
        answered,
        cacheHits,
        neverFinished,
        ttftMs: summarize(ttft),
        e2eMs: summarize(e2e),
        cacheHitE2eMs: summarize(cacheHitE2e),
        generatedE2eMs: summarize(generatedE2e),
        refusalMs: summarize(refusal),
      };
    },
  };
}
export type Recorder = ReturnType<typeof createRecorder>;

export type RunCounts = {
  statuses: Record<string, number>;
  transportErrors: Record<string, number>;
  outcomes: Record<string, number>;
  accepted: number;
  answered: number;
  cacheHits: number;
  neverFinished: number;
  ttftMs: Percentiles;
  e2eMs: Percentiles;
  /** End to end of the answers served from the cache in the submit itself. */
  cacheHitE2eMs: Percentiles;
  /** End to end of the answers a worker generated (or joined a generation). */
  generatedE2eMs: Percentiles;
  /** Submits refused with 429 or 503: how long the refusal took. */
  refusalMs: Percentiles;
};
