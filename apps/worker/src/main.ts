import { loadConfigOrExit } from '@assistant/config';
import { runMigrations } from '@assistant/db';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { serve } from '@hono/node-server';
import { buildWorker } from './compose.ts';

/** Entry point of a worker process: validate config, warm the model, consume, shut down cleanly. */
async function main() {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger({ service: 'worker', level: config.log.level });
  const metrics = createMetrics('worker');
  if (config.db.migrateOnStart) await runMigrations(config.db.url);
  const worker = await buildWorker(config, { logger, metrics });
  await worker.start();
  const server = serve(
    { fetch: worker.health.fetch, port: config.worker.port, hostname: config.worker.host },
    (info) => {
      logger.info({ port: info.port }, 'worker listening');
    },
  );

  let closing = false;
  async function shutdown(signal: string) {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'worker shutting down: finishing active jobs');
    const force = setTimeout(() => {
      logger.warn('grace period over, exiting with jobs still active (they will be recovered as stalled)');
      process.exit(1);
    }, config.shutdown.graceMs).unref();
    await worker.close();
    server.close();
    clearTimeout(force);
    logger.info('worker stopped');
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('worker failed to start:', error);
  process.exit(1);
});
