import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  createTestDatabase,
  createTestRedis,
  freePort,
  type TestDatabase,
  type TestRedis,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm start` (scripts/local.mjs) as a real process group: signals at any moment of start-up, a
// SIGKILLed runner, a busy port and a crashed child must never leave a child behind nor report
// success for a failure.
const root = fileURLToPath(new URL('..', import.meta.url));
const GRACE_MS = 5_000;

let redis: TestRedis;
let database: TestDatabase;

beforeAll(async () => {
  [redis, database] = await Promise.all([createTestRedis('local'), createTestDatabase('local')]);
}, 60_000);

afterAll(async () => {
  await redis?.cleanup();
  await database?.drop();
});

/** Pids of live processes whose environment carries `marker` (the runner's descendants). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return pids;
}

async function waitFor<T>(probe: () => T | undefined | false, timeoutMs: number): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > until) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Runner = {
  child: ChildProcess;
  marker: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

function startLocal(env: Record<string, string>): Runner {
  const marker = `LOCAL_E2E_MARKER=${Math.random().toString(36).slice(2)}`;
  const child = spawn(process.execPath, ['scripts/local.mjs'], {
    cwd: root,
    // Its own process group, as a terminal gives `npm start`, so the test can signal the group.
    detached: true,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.XDG_CACHE_HOME ? { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } : {}),
      ...(process.env.EMBEDDING_MODEL_DIR ? { EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR } : {}),
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      DATABASE_URL: database.url,
      ADMIN_TOKEN: 'local-e2e-admin-token-0123456789',
      HOST: '127.0.0.1',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      [marker.split('=')[0] as string]: marker.split('=')[1] as string,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, marker, output: () => output, exited };
}

async function exitWithin(runner: Runner, ms: number) {
  return Promise.race([runner.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

/** Kills whatever a failed test left behind, so one failure does not leak into the next. */
function reap(runner: Runner) {
  for (const pid of processesWith(runner.marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  const free = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise((r) => server.close(r));
  return free;
}

describe('npm start (scripts/local.mjs)', () => {
  for (const delayMs of [500, 1_500, 'ready'] as const) {
    it(`SIGTERM to its process group ${delayMs === 'ready' ? 'once running' : `${delayMs} ms into start-up`} stops everything`, async () => {
      const [port, workerPort] = [await freePort(), await freePort()];
      const runner = startLocal({ PORT: String(port), WORKER_PORT: String(workerPort) });
      try {
        if (delayMs === 'ready') {
          expect(await waitFor(() => runner.output().includes('worker listening'), 60_000)).toBe(true);
        } else {
          await new Promise((r) => setTimeout(r, delayMs));
        }
        process.kill(-(runner.child.pid as number), 'SIGTERM');
        expect(await exitWithin(runner, GRACE_MS + 5_000)).toEqual({ code: 0, signal: null });
        // Nothing may start or linger afterwards (the worker used to start on a timer).
        await new Promise((r) => setTimeout(r, 2_500));
        expect(processesWith(runner.marker)).toEqual([]);
        expect(await portIsFree(workerPort)).toBe(true);
        expect(await portIsFree(port)).toBe(true);
      } finally {
        reap(runner);
      }
    }, 90_000);
  }

  it('a SIGKILLed runner takes its children with it', async () => {
    const [port, workerPort] = [await freePort(), await freePort()];
    const runner = startLocal({ PORT: String(port), WORKER_PORT: String(workerPort) });
    try {
      expect(await waitFor(() => runner.output().includes('worker listening'), 60_000)).toBe(true);
      runner.child.kill('SIGKILL');
      await runner.exited;
      expect(await waitFor(() => processesWith(runner.marker).length === 0, GRACE_MS + 5_000)).toBe(true);
      expect(await portIsFree(workerPort)).toBe(true);
    } finally {
      reap(runner);
    }
  }, 90_000);

  it('a busy worker port: names WORKER_PORT, no stack trace, exits non-zero, stops the API', async () => {
    const [port, workerPort] = [await freePort(), await freePort()];
    const squatter = net.createServer().listen(workerPort, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    const runner = startLocal({ PORT: String(port), WORKER_PORT: String(workerPort) });
    try {
      const exit = await exitWithin(runner, 60_000);
      expect(exit).not.toBe('timeout');
      expect(exit).not.toEqual({ code: 0, signal: null });
      expect(runner.output()).toContain(`port ${workerPort}`);
      expect(runner.output()).toContain('WORKER_PORT');
      expect(runner.output()).not.toMatch(/\n\s+at /);
      expect(processesWith(runner.marker)).toEqual([]);
      expect(await portIsFree(port)).toBe(true);
    } finally {
      reap(runner);
      await new Promise((r) => squatter.close(r));
    }
  }, 90_000);

  it('with WORKER_PORT unset picks a free worker port and prints it', async () => {
    const runner = startLocal({ PORT: String(await freePort()) });
    try {
      expect(await waitFor(() => runner.output().includes('worker listening'), 60_000)).toBe(true);
      const printed = runner.output().match(/worker health port: (\d+)/);
      expect(printed).not.toBeNull();
      expect(await portIsFree(Number(printed?.[1]))).toBe(false);
      process.kill(-(runner.child.pid as number), 'SIGTERM');
      expect(await exitWithin(runner, GRACE_MS + 5_000)).toEqual({ code: 0, signal: null });
    } finally {
      reap(runner);
    }
  }, 90_000);
});
