import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Options of {@link createEventLoopDelay}. */
export type EventLoopDelayOptions = {
  /** Length of the window whose p99 is reported, in ms. @defaultValue 1000 */
  windowMs?: number;
};

/**
 * The event-loop delay of this process, as the overload guard reads it: the p99 of the current
 * window of `monitorEventLoopDelay` (10 ms resolution), or of the last full window when the
 * current one has too few samples. Windows roll over on a timer that does not keep the process
 * alive. A blocked loop is seen as soon as it runs again: the first timer phase after the block
 * records it, before the poll phase hands over the requests that queued meanwhile.
 */
export function createEventLoopDelay(options: EventLoopDelayOptions = {}) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let lastWindowMs = 0;
  const timer = setInterval(() => {
    lastWindowMs = histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0;
    histogram.reset();
  }, options.windowMs ?? 1_000);
  timer.unref();
  return {
    /** The recent p99 event-loop delay in ms. */
    ms(): number {
      // Fewer than ~5 samples: the window just started, the last one is the better estimate.
      if (histogram.count < 5) return Math.max(lastWindowMs, histogram.count > 0 ? histogram.max / 1e6 : 0);
      return Math.max(histogram.percentile(99) / 1e6, 0);
    },
    close(): void {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
