import http from 'node:http';
import net from 'node:net';
import { type ServiceProcess, startService, testServers, waitUntil } from '@assistant/testing';
import { afterEach, describe, expect, it } from 'vitest';

// API_PROCESSES=2: a real node:cluster primary and two real API processes sharing one port.
const env = {
  REDIS_URL: testServers.redisUrl,
  DATABASE_URL: testServers.databaseUrl,
  MIGRATE_ON_START: 'false',
  ADMIN_TOKEN: 'process-pool-admin-token-0123456',
  HOST: '127.0.0.1',
  API_PROCESSES: '2',
  SHUTDOWN_GRACE_MS: '3000',
};

type LogLine = { pid?: number; msg?: string; requestId?: string };

function logLines(service: ServiceProcess): LogLine[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the API processes that logged "api listening" and have not exited. */
function listeningPids(service: ServiceProcess): number[] {
  return [
    ...new Set(
      logLines(service)
        .filter((l) => l.msg === 'api listening')
        .map((l) => l.pid!),
    ),
  ].filter(alive);
}

/** Sends one request on a fresh connection with its own id; returns the pid that logged it. */
async function servedBy(service: ServiceProcess, requestId: string): Promise<number> {
  const status = await new Promise<number | undefined>((resolve, reject) => {
    http
      .get(`${service.url}/healthz`, { agent: false, headers: { 'x-request-id': requestId } }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode));
      })
      .once('error', reject);
  });
  expect(status).toBe(200);
  let pid: number | undefined;
  await waitUntil(
    () => {
      pid = logLines(service).find((l) => l.requestId === requestId)?.pid;
      return pid !== undefined;
    },
    { what: `the log line of ${requestId}` },
  );
  return pid!;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

let running: ServiceProcess | undefined;
afterEach(async () => {
  if (running)
    for (const pid of [...listeningPids(running), running.child.pid!])
      if (alive(pid)) process.kill(pid, 'SIGKILL');
  running = undefined;
});

describe('API_PROCESSES=2', () => {
  it('serves from two processes, replaces one killed by SIGKILL, and stops all on SIGTERM', async () => {
    // Request lines are logged at debug, with the pid of the process that served them.
    running = await startService('api', { ...env, PORT: '0', LOG_LEVEL: 'debug' });
    const api = running;
    await waitUntil(() => logLines(api).some((l) => l.msg === 'api pool ready'), { what: 'the pool ready' });
    const workers = listeningPids(api);
    expect(workers).toHaveLength(2);
    expect(workers).not.toContain(api.child.pid);

    // Round-robin: consecutive requests on fresh connections go to both processes.
    const served = new Set<number>();
    for (let i = 0; i < 6; i++) served.add(await servedBy(api, `rr-${i}`));
    expect([...served].sort()).toEqual([...workers].sort());

    // One dies hard: the other keeps serving meanwhile, and the primary starts a replacement.
    process.kill(workers[0]!, 'SIGKILL');
    await waitUntil(() => !alive(workers[0]!), { what: 'the killed process gone' });
    for (let i = 0; i < 3; i++) expect(await servedBy(api, `after-kill-${i}`)).not.toBe(workers[0]);
    await waitUntil(() => listeningPids(api).length === 2, { what: 'a replacement', timeoutMs: 15_000 });
    const replaced = listeningPids(api);
    expect(replaced).toContain(workers[1]);
    expect(replaced).not.toContain(workers[0]);
    const again = new Set<number>();
    for (let i = 0; i < 6; i++) again.add(await servedBy(api, `replaced-${i}`));
    expect([...again].sort()).toEqual([...replaced].sort());

    // SIGTERM to the primary stops every process, exit 0, and frees the port.
    expect(await api.stop('SIGTERM')).toBe(0);
    await waitUntil(() => replaced.every((pid) => !alive(pid)), { what: 'every API process gone' });
    expect(await portIsFree(api.port)).toBe(true);
  }, 60_000);

  it('gives up on a crash loop: more than 5 deaths within a minute stop the pool, exit 1, nothing left', async () => {
    running = await startService('api', { ...env, PORT: '0' });
    const api = running;
    await waitUntil(() => logLines(api).some((l) => l.msg === 'api pool ready'), { what: 'the pool ready' });
    const killed = new Set<number>();
    const exited = new Promise<number | null>((resolve) => api.child.once('exit', resolve));
    const killer = setInterval(() => {
      for (const pid of listeningPids(api)) {
        killed.add(pid);
        process.kill(pid, 'SIGKILL');
      }
    }, 100);
    try {
      expect(await exited).toBe(1);
    } finally {
      clearInterval(killer);
    }
    expect(killed.size).toBeGreaterThan(5);
    expect(api.output()).toContain('api processes keep crashing; stopping');
    const all = logLines(api)
      .map((l) => l.pid)
      .filter((pid): pid is number => pid !== undefined);
    expect(all.filter(alive)).toEqual([]);
  }, 60_000);

  it('on a busy port: one clear message, exit 1, no process left', async () => {
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const { port } = squatter.address() as net.AddressInfo;
    try {
      const failure = await startService('api', { ...env, PORT: String(port) }).then(
        () => 'started',
        (error: unknown) => (error as Error).message,
      );
      expect(failure).toMatch(/exited with 1 before listening/);
      const message = `port ${port} on 127.0.0.1 is already in use (set PORT to another port)`;
      expect(failure.split(message)).toHaveLength(2);
      expect(failure).not.toMatch(/\n\s+at /);
      // The one API process forked before the failure is gone too.
      const pids = [...failure.matchAll(/"(?:pid|workerPid)":(\d+)/g)].map((m) => Number(m[1]));
      expect(pids.length).toBeGreaterThan(0);
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 40_000);
});
