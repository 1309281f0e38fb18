import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { startService, testServers, waitUntil } from '@assistant/testing';
import { describe, expect, it } from 'vitest';

describe('start-up with a bad configuration', () => {
  for (const app of ['api', 'worker'] as const) {
    it(`stops the ${app} before any connection, naming each bad variable`, async () => {
      const failure = await startService(
        app,
        { PORT: 'eighty', ADMIN_TOKEN: 'short' },
        { timeoutMs: 20_000 },
      ).then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
      expect(failure).toMatch(/exited with 78 before listening/);
      for (const name of ['REDIS_URL', 'DATABASE_URL', 'ADMIN_TOKEN', 'PORT'])
        expect(failure).toContain(`${name}:`);
    });
  }
});

describe('a signal in the middle of start-up', () => {
  for (const app of ['api', 'worker'] as const) {
    it(`stops the ${app} cleanly (exit 0), well within the grace period`, async () => {
      // A "Postgres" that accepts and never answers: the migration step hangs there, mid-start-up.
      const sockets: net.Socket[] = [];
      const silent = net.createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
      await new Promise((resolve) => silent.once('listening', resolve));
      const { port } = silent.address() as net.AddressInfo;
      const child = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], {
        cwd: fileURLToPath(new URL('../../../', import.meta.url)),
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          REDIS_URL: testServers.redisUrl,
          DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/never`,
          MIGRATE_ON_START: 'true',
          ADMIN_TOKEN: 'startup-signal-admin-token-0123',
          PORT: '0',
          WORKER_PORT: '0',
          SHUTDOWN_GRACE_MS: '30000',
        },
        stdio: 'ignore',
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      try {
        await waitUntil(() => sockets.length > 0, { what: `${app} connecting to the database` });
        child.kill('SIGTERM');
        const exit = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
        expect(exit).toEqual({ code: 0, signal: null });
      } finally {
        child.kill('SIGKILL');
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    }, 40_000);
  }
});

describe('a busy port', () => {
  it('stops the api naming the port and PORT, exit 1, no stack trace', async () => {
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const { port } = squatter.address() as net.AddressInfo;
    try {
      const failure = await startService('api', {
        REDIS_URL: testServers.redisUrl,
        DATABASE_URL: testServers.databaseUrl,
        MIGRATE_ON_START: 'false',
        ADMIN_TOKEN: 'busy-port-admin-token-0123456789',
        HOST: '127.0.0.1',
        PORT: String(port),
      }).then(
        () => 'started',
        (error: unknown) => (error as Error).message,
      );
      expect(failure).toMatch(/exited with 1 before listening/);
      expect(failure).toContain(`port ${port} on 127.0.0.1 is already in use (set PORT to another port)`);
      expect(failure).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 40_000);
});
