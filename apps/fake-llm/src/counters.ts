import type { FaultKind } from './settings.ts';

/** What the fake decided to do with a chat request. */
export type Outcome = 'ok' | 'bad_request' | FaultKind;

/** Request counters exposed by `GET /control`. */
export type FakeLlmCounters = {
  /** Chat completion requests received, valid or not. */
  requests: number;
  /** Requests still being answered. */
  inFlight: number;
  /** Requests whose client went away before the fake finished answering. */
  aborted: number;
  /** One count per request: the outcome decided when it arrived. */
  outcomes: Record<Outcome, number>;
};

/** Creates zeroed counters. */
export function createCounters(): FakeLlmCounters {
  return {
    requests: 0,
    inFlight: 0,
    aborted: 0,
    outcomes: {
      ok: 0,
      bad_request: 0,
      rate_limit: 0,
      unavailable: 0,
      server_error: 0,
      mid_stream_error: 0,
      truncate: 0,
      reset: 0,
      hang: 0,
    },
  };
}
