import { loadConfigOrExit } from '@assistant/config';
import { runMigrations } from '@assistant/db';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { serve } from '@hono/node-server';
import { buildApi } from './compose.ts';

/** Entry point of an API process: validate config, migrate, build, serve, shut down cleanly. */
async function main() {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger({ service: 'api', level: config.log.level });
  const metrics = createMetrics('api');
  if (config.db.migrateOnStart) await runMigrations(config.db.url);
  const api = await buildApi(config, { logger, metrics });

  const server = serve({ fetch: api.app.fetch, port: config.api.port, hostname: config.api.host }, (info) => {
    logger.info({ port: info.port, host: config.api.host }, 'api listening');
  });

  let closing = false;
  async function shutdown(signal: string) {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'api shutting down');
    const force = setTimeout(() => process.exit(1), config.shutdown.graceMs).unref();
    // Stop accepting, tell streaming clients to reconnect elsewhere, let in-flight requests end.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    api.beginShutdown();
    const idle = setTimeout(
      () => {
        if ('closeAllConnections' in server)
          (server as { closeAllConnections(): void }).closeAllConnections();
      },
      Math.min(2_000, config.shutdown.graceMs / 2),
    );
    await closed;
    clearTimeout(idle);
    await api.close();
    clearTimeout(force);
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('api failed to start:', error);
  process.exit(1);
});
