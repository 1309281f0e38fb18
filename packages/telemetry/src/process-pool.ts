import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './logger.ts';

/** Options of {@link runProcessPool}. */
export type ProcessPoolOptions = {
  /** Name of the app (`api`, `worker`), for log lines. */
  name: string;
  /** Worker processes to keep running (≥ 2; with 1 an app runs without a pool). */
  processes: number;
  /** How long the workers get to stop on SIGTERM before they are killed (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  logger: Logger;
  /**
   * Environment the first worker gets on top of the primary's; every later worker (the rest, and
   * every replacement) gets `laterEnv` instead: `{ MIGRATE_ON_START: 'false' }` so that only the
   * first migrates, before any other starts.
   */
  laterEnv?: Record<string, string>;
  /** Restarts allowed within `crashWindowMs` before the pool gives up and exits 1. @defaultValue 5 */
  maxRestarts?: number;
  /** @defaultValue 60000 */
  crashWindowMs?: number;
  /** First restart delay; doubles per recent crash, capped at 5 s. @defaultValue 200 */
  restartDelayMs?: number;
};

/**
 * Runs this process as a small supervisor (a `node:cluster` primary) of `processes` copies of
 * the app, which share its listening ports (round-robin on Linux). The primary does no app work:
 *
 * - it forks one worker, and the others only once that one is ready (it migrated, and it has
 *   either bound the port or failed loudly, once, e.g. on a busy port);
 * - a worker that fails during start-up stops the pool: the others are stopped, exit 1;
 * - once all are ready, it sends 'ready' over its own IPC channel if it has one (`npm start`);
 * - a worker that dies later is replaced after a backoff; more than `maxRestarts` crashes within
 *   `crashWindowMs` is a crash loop: the pool stops, exit 1;
 * - SIGTERM/SIGINT (or its parent's IPC channel closing) is forwarded to every worker, which
 *   shut down gracefully; the primary waits for them, bounded by `graceMs` (plus a margin for
 *   their own forced exit), then kills what is left and exits 1 — else 0.
 *
 * Workers are told apart by `cluster.isPrimary`: an app's `main.ts` calls this in the primary
 * and runs as a single process in each worker. Never resolves: the primary ends by exiting.
 */
export function runProcessPool(options: ProcessPoolOptions): Promise<never> {
  const { name, processes, graceMs, logger } = options;
  const maxRestarts = options.maxRestarts ?? 5;
  const crashWindowMs = options.crashWindowMs ?? 60_000;
  const restartDelayMs = options.restartDelayMs ?? 200;
  const workers = new Set<Worker>();
  const ready = new Set<Worker>();
  const crashes: number[] = [];
  let started = false;
  let stopping = false;
  let exitCode = 0;

  function fork(env: Record<string, string>) {
    const worker = cluster.fork(env);
    workers.add(worker);
    worker.on('message', (message: unknown) => {
      if (message !== 'ready') return;
      ready.add(worker);
      onReady(worker);
    });
    worker.once('exit', (code, signal) => onExit(worker, code, signal));
    return worker;
  }

  function onReady(worker: Worker) {
    if (started) {
      logger.info({ workerPid: worker.process.pid }, `${name} process replaced`);
      return;
    }
    if (ready.size === 1 && workers.size === 1) {
      for (let i = 1; i < processes; i++) fork(options.laterEnv ?? {});
    }
    if (ready.size === processes) {
      started = true;
      logger.info({ processes }, `${name} pool ready`);
      process.send?.('ready');
    }
  }

  function onExit(worker: Worker, code: number | null, signal: string | null) {
    workers.delete(worker);
    ready.delete(worker);
    if (stopping) {
      // Stopped by the signal itself (one that lands before its handlers exist) is stopped as asked.
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT') exitCode = 1;
      if (workers.size === 0) finish();
      return;
    }
    if (!started) {
      // It printed why (a busy port, an unreachable database); the pool adds no stack of its own.
      logger.error(
        { workerPid: worker.process.pid, code, signal },
        `${name} process failed to start; stopping`,
      );
      stop(code && code > 0 ? code : 1);
      return;
    }
    const now = Date.now();
    while (crashes.length > 0 && crashes[0]! < now - crashWindowMs) crashes.shift();
    crashes.push(now);
    if (crashes.length > maxRestarts) {
      logger.error(
        { crashes: crashes.length, windowMs: crashWindowMs },
        `${name} processes keep crashing; stopping`,
      );
      stop(1);
      return;
    }
    const delayMs = Math.min(5_000, restartDelayMs * 2 ** (crashes.length - 1));
    logger.warn(
      { workerPid: worker.process.pid, code, signal, delayMs },
      `${name} process died; restarting it`,
    );
    // A replacement that dies before it is ready counts as one more crash. Not unref'd: with
    // every copy dead, this timer is what keeps the primary alive to fork again.
    setTimeout(() => {
      if (!stopping) fork(options.laterEnv ?? {});
    }, delayMs);
  }

  function finish() {
    process.exit(exitCode);
  }

  function stop(code: number, signal: NodeJS.Signals = 'SIGTERM') {
    exitCode = Math.max(exitCode, code);
    if (stopping) return;
    stopping = true;
    if (workers.size === 0) finish();
    for (const worker of workers) worker.process.kill(signal);
    // The workers force their own exit at graceMs; this bound only catches one that cannot.
    setTimeout(() => {
      logger.error(
        { left: workers.size },
        `${name} processes did not stop within the grace period; killing them`,
      );
      for (const worker of workers) worker.process.kill('SIGKILL');
      exitCode = 1;
      finish();
    }, graceMs + 2_000).unref();
  }

  const onSignal = (signal: NodeJS.Signals) => () => {
    logger.info({ signal }, `${name} pool stopping`);
    stop(0, signal);
  };
  process.on('SIGTERM', onSignal('SIGTERM'));
  process.on('SIGINT', onSignal('SIGINT'));
  // Started by `npm start` over an IPC channel: its closing means the runner died.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', onSignal('SIGTERM'));
  }

  fork({});
  return new Promise<never>(() => {});
}
