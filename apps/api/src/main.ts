import cluster from 'node:cluster';
import type { Server } from 'node:http';
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
import { createAdaptorServer } from '@hono/node-server';
import { buildApi } from './compose.ts';
import { answerClientErrors, serverOptionsOf } from './http-server.ts';

/** Entry point of an API process: validate config, migrate, build, serve, shut down cleanly. */
async function main() {
  const config = loadConfigOrExit(process.env);
  const logger = createLogger({ service: 'api', level: config.log.level });
  // API_PROCESSES > 1: this process only supervises that many copies of itself (sharing
  // the port); each copy runs the rest of this function. Only the first copy migrates.
  if (cluster.isPrimary && config.api.processes > 1) {
    await runProcessPool({
      name: 'api',
      processes: config.api.processes,
      graceMs: config.shutdown.graceMs,
      logger,
      laterEnv: { MIGRATE_ON_START: 'false' },
    });
  }
  // Tracing first, so every span of this process is recorded (no-op unless OTEL_* asks for it).
  const tracing = await startTracing({
    enabled: config.tracing.enabled,
    serviceName: config.tracing.serviceName ?? 'assistant-api',
  });
  const metrics = createMetrics('api');

  // Signals are handled from the first moment. Before the server listens nothing has been served
  // and migrations run in one transaction, so a signal mid-start-up simply ends the process.
  let shutdown: (signal: string) => Promise<void> = async (signal) => {
    logger.info({ signal }, 'api stopping during start-up (nothing served yet)');
    process.exit(0);
  };
  onStopSignals((signal) => void shutdown(signal));

  if (config.db.migrateOnStart) await runMigrations(config.db.url);
  const api = await buildApi(config, { logger, metrics });

  const server = createAdaptorServer({
    fetch: api.app.fetch,
    serverOptions: serverOptionsOf(config.api),
  }) as Server;
  // A long accept queue: a spike's connections wait to be accepted (and then refused politely if
  // need be) instead of being reset by the kernel at Node's default of 511.
  server.listen({ port: config.api.port, host: config.api.host, backlog: config.api.listenBacklog }, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.api.port;
    logger.info({ port, host: config.api.host }, 'api listening');
  });
  answerClientErrors(server);
  await listenOrExit(
    server,
    { service: 'api', port: config.api.port, host: config.api.host, portVariable: 'PORT' },
    () => api.close(),
  );
  process.send?.('ready');

  let closing = false;
  shutdown = async (signal: string) => {
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
    // The spans of the last requests are exported before the process ends.
    await tracing.shutdown();
    clearTimeout(force);
    process.exit(0);
  };
}

main().catch((error: unknown) => {
  console.error('api failed to start:', error);
  process.exit(1);
});
