/** Latency figures of one open-loop run, in milliseconds. */
export type OpenLoopResult = {
  sent: number;
  /** Requests `send` did not report `'ok'` for, by what it reported (a status, `network_error`). */
  failed: Record<string, number>;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Worst lateness of a send against its schedule: how far the generator itself fell behind. */
  maxSendLagMs: number;
};

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends `ratePerSecond × durationMs` requests on a fixed schedule, whether or not earlier ones
 * have answered (open loop), and times each from its scheduled start, so a slow server cannot hide
 * its queueing by slowing the generator down (no coordinated omission). `send` resolves to `'ok'`
 * or a label of what went wrong.
 */
export async function runOpenLoop(
  ratePerSecond: number,
  durationMs: number,
  send: (i: number) => Promise<string>,
): Promise<OpenLoopResult> {
  const total = Math.round((ratePerSecond * durationMs) / 1000);
  const latencies = new Float64Array(total);
  const interval = 1000 / ratePerSecond;
  const failed: Record<string, number> = {};
  let maxSendLagMs = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now() + 20;
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);
    pending.push(
      send(i)
        .catch(() => 'network_error')
        .then((outcome) => {
          latencies[i] = performance.now() - due;
          if (outcome !== 'ok') failed[outcome] = (failed[outcome] ?? 0) + 1;
        }),
    );
  }
  await Promise.all(pending);
  latencies.sort();
  return {
    sent: total,
    failed,
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    maxSendLagMs,
  };
}
