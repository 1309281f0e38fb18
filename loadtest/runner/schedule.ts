import type { Load } from './scenarios.ts';

/**
 * Arrival offsets (ms from the start) of an open-loop load: a constant rate, or a rate that
 * moves linearly from stage to stage as k6's ramping-arrival-rate does. Arrival k happens when
 * the integral of the rate first reaches k + 1, so a ramp from 0 starts slowly.
 */
export function arrivalOffsets(load: Exclude<Load, { kind: 'closed' }>): number[] {
  const offsets: number[] = [];
  if (load.kind === 'constant') {
    const total = Math.round(load.rate * load.durationS);
    for (let i = 0; i < total; i++) offsets.push((i * 1000) / load.rate);
    return offsets;
  }
  let begin = 0;
  let rate = load.startRate;
  let due = 0;
  for (const stage of load.stages) {
    const lengthMs = stage.durationS * 1000;
    // Integrate per millisecond: exact enough for arrivals at up to thousands per second.
    for (let t = 0; t < lengthMs; t++) {
      const current = rate + ((stage.target - rate) * (t + 0.5)) / lengthMs;
      due += current / 1000;
      // The epsilon absorbs float drift, so an arrival owed at a whole count is not a tick late.
      while (due >= 1 - 1e-9) {
        offsets.push(begin + t);
        due -= 1;
      }
    }
    begin += lengthMs;
    rate = stage.target;
  }
  return offsets;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs an open loop: calls `send(i, dueAt)` at each offset whether or not earlier calls have
 * finished, so a slow server cannot slow the generator (no coordinated omission). Stops
 * scheduling when `signal` aborts. Resolves when every started call has settled.
 */
export async function runOpenLoop(
  offsets: number[],
  send: (i: number, dueAt: number) => Promise<void>,
  signal: AbortSignal,
): Promise<{ started: number; maxLagMs: number }> {
  const start = performance.now() + 10;
  const pending: Promise<void>[] = [];
  let maxLagMs = 0;
  for (let i = 0; i < offsets.length && !signal.aborted; i++) {
    const dueAt = start + (offsets[i] ?? 0);
    const wait = dueAt - performance.now();
    if (wait > 0) await sleep(wait);
    maxLagMs = Math.max(maxLagMs, performance.now() - dueAt);
    pending.push(send(i, dueAt).catch(() => {}));
  }
  await Promise.all(pending);
  return { started: pending.length, maxLagMs };
}

/**
 * Runs a closed loop: `vus` virtual users each call `send` `iterations` times in turn, all
 * starting at once. Stops starting new iterations when `signal` aborts.
 */
export async function runClosedLoop(
  vus: number,
  iterations: number,
  send: (i: number, dueAt: number) => Promise<void>,
  signal: AbortSignal,
): Promise<{ started: number; maxLagMs: number }> {
  let started = 0;
  async function virtualUser(): Promise<void> {
    for (let k = 0; k < iterations && !signal.aborted; k++) {
      const i = started++;
      await send(i, performance.now()).catch(() => {});
    }
  }
  await Promise.all(Array.from({ length: vus }, virtualUser));
  return { started, maxLagMs: 0 };
}
