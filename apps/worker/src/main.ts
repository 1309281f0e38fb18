import cluster from 'node:cluster';
import { setPriority } from 'node:os';
import { loadConfigOrExit } from '@assistant/config';
import { runMigrations } from '@assistant/db';
import {
  createLogger,
  createMetrics,
  listenOrExit,
  onStopSignals,
  runProcessPool,
  startTracing,
} from '@assistant/telemetry';
import { serve } from '@hono/node-server';
import { buildWorker } from './compose.ts';

/** Entry point of a worker process: validate config, warm the model, consume, shut down cleanly. */
async function main() {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger({ service: 'worker', level: config.log.level });
  // WORKER_PROCESSES > 1: this process only supervises that many copies of itself (sharing
  // the port); each copy runs the rest of this function. Only the first copy migrates.
  if (cluster.isPrimary && config.worker.processes > 1) {
    await runProcessPool({
      name: 'worker',
      processes: config.worker.processes,
      graceMs: config.shutdown.graceMs,
      logger,
      laterEnv: { MIGRATE_ON_START: 'false' },
    });
  }
  // Tracing first, so every span of this process is recorded (no-op unless OTEL_* asks for it).
  const tracing = await startTracing({
    enabled: config.tracing.enabled,
    serviceName: config.tracing.serviceName ?? 'assistant-worker',
  });
  const metrics = createMetrics('worker');
  // Lower (never raise) this process's CPU priority: see WORKER_NICE. Each pooled copy sets its own.
  if (config.worker.nice > 0) setPriority(config.worker.nice);

  // Signals are handled from the first moment. Until the consumer starts nothing has been taken
  // and migrations run in one transaction, so a signal then simply ends the process; once the
  // consumer is starting, the signal is remembered and the full shutdown runs as soon as it can.
  let stopRequested: string | undefined;
  let consuming = false;
  let shutdown: (signal: string) => Promise<void> = async (signal) => {
    if (!consuming) {
      logger.info({ signal }, 'worker stopping during start-up (no job taken yet)');
      process.exit(0);
    }
    stopRequested ??= signal;
  };
  onStopSignals((signal) => void shutdown(signal));

  if (config.db.migrateOnStart) await runMigrations(config.db.url);
  const worker = await buildWorker(config, { logger, metrics });
  // Bind the health port before consuming: a busy port must not leave a half-started consumer.
  const server = serve({
    fetch: worker.health.fetch,
    port: config.worker.port,
    hostname: config.worker.host,
  });
  await listenOrExit(
    server,
    { service: 'worker', port: config.worker.port, host: config.worker.host, portVariable: 'WORKER_PORT' },
    () => worker.close(),
  );
  consuming = true;
  await worker.start();
  const address = server.address();
  logger.info(
    { port: typeof address === 'object' && address ? address.port : config.worker.port },
    'worker listening',
  );
  process.send?.('ready');

  let closing = false;
  shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'worker shutting down: finishing active jobs');
    const force = setTimeout(() => {
      logger.warn('grace period over, exiting with jobs still active (they will be recovered as stalled)');
      process.exit(1);
    }, config.shutdown.graceMs).unref();
    await worker.close();
    server.close();
    // The spans of the last jobs are exported before the process ends.
    await tracing.shutdown();
    clearTimeout(force);
    logger.info('worker stopped');
    process.exit(0);
  };
  if (stopRequested) await shutdown(stopRequested);
}

main().catch((error: unknown) => {
  console.error('worker failed to start:', error);
  process.exit(1);
});
