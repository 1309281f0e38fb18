import type { Server } from 'node:net';

/**
 * Routes SIGTERM, SIGINT and the loss of the parent's IPC channel to `stop`, from the first
 * moment of start-up. A process started by `npm start` (scripts/local.mjs) or by a pool primary
 * has an IPC channel: its closing means the parent died, even by SIGKILL, so the process stops
 * rather than being orphaned holding its port. The channel is unref'd: it keeps nothing alive.
 */
export function onStopSignals(stop: (signal: string) => void): void {
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => stop('parent exited'));
  }
}

/** Where a process listens, and the variable that sets the port (named in the error). */
export type ListenAt = { service: string; port: number; host: string; portVariable: string };

/**
 * Waits until `server` listens. If it cannot (a busy port, no permission), prints one line that
 * names the port and the variable that sets it, no stack, runs `cleanup` and exits 1.
 */
export async function listenOrExit(
  server: Server,
  at: ListenAt,
  cleanup: () => Promise<unknown>,
): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(
      code === 'EADDRINUSE'
        ? `${at.service} cannot listen: port ${at.port} on ${at.host} is already in use (set ${at.portVariable} to another port)`
        : `${at.service} cannot listen on ${at.host}:${at.port}: ${(error as Error).message} (set ${at.portVariable}/HOST)`,
    );
    await cleanup().catch(() => {});
    process.exit(1);
  }
}
