import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

/** `--quick` on the command line or `BENCH_QUICK=1`: CI-sized runs (fewer requests, smaller N). */
export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

/** Latency figures of a set of samples, in milliseconds. */
export type Summary = { n: number; p50: number; p99: number; mean: number };

/** p50/p99/mean of samples (ms); sorts a copy. */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
  return {
    n: sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
  };
}

/** Serves a fetch handler over real HTTP on a free port of 127.0.0.1. */
export function listen(fetch: (request: Request) => Response | Promise<Response>) {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    server.once('listening', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    );
  });
}

/**
 * Runs `send` `total` times with `concurrency` clients in a closed loop (each sends its next
 * request when the previous answered); returns per-request latencies and requests per second.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  send: (i: number) => Promise<string>,
): Promise<Summary & { perSecond: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const begin = performance.now();
        const outcome = await send(i);
        latencies.push(performance.now() - begin);
        if (outcome !== 'ok') throw new Error(`request ${i} failed: ${outcome}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ...summarize(latencies), perSecond: total / seconds };
}

/** Prints rows as a fixed-width table; the first row is the header. */
export function printTable(rows: (string | number)[][]): void {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'number' ? c.toFixed(2) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  cells.forEach((row, r) => {
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | '));
    if (r === 0) console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  });
}
