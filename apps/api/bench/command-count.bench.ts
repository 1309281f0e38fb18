// Benchmark: Redis commands and Postgres statements per answered question and per cache hit,
// through the system as deployed (a real API process and a real worker process with the real
// ONNX model; the LLM is the fake, 20 tokens, no delay).
//
// Redis: MONITOR, keeping only commands sent by the API's and the worker's own connections (their
// TCP source addresses, from `ss -tnp` by pid), grouped by command and key pattern (prefix removed,
// ids as `*`). Postgres: both processes reach Postgres through a proxy in this process that reads
// the wire protocol and counts each statement executed (pg-statement-proxy.ts), grouped by SQL.
// Each phase is a fixed window of WINDOW_MS: idle (background work only: BullMQ's blocking waits
// and stall checks, sweeps), one new question answered (POST, SSE read to `done`),
// and the same question again (an exact-cache hit). "net" = the phase minus idle.
//
// Run: npm run bench -w @assistant/api, or npx tsx apps/api/bench/command-count.bench.ts
import { execFileSync } from 'node:child_process';
import {
  createTestDatabase,
  createTestRedis,
  readSse,
  type ServiceProcess,
  startService,
  testServers,
} from '@assistant/testing';
import { startFakeLlmProcess } from './fake-llm-process.ts';
import { printTable } from './measure.ts';
import { startPgStatementProxy } from './pg-statement-proxy.ts';

const WINDOW_MS = 4_000;
const ADMIN = 'bench-admin-token-0123456789';

const fake = await startFakeLlmProcess({ ttftMs: 0, answerTokens: 20, tokensPerSecond: 0 });
const [testRedis, database] = await Promise.all([
  createTestRedis('cmd_count_bench'),
  createTestDatabase('cmd_count_bench'),
]);
const pgTarget = new URL(testServers.databaseUrl);
const proxy = await startPgStatementProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
const proxied = new URL(database.url);
proxied.port = String(proxy.port);
const env = {
  REDIS_URL: testRedis.url,
  REDIS_PREFIX: testRedis.prefix,
  DATABASE_URL: proxied.toString(),
  ADMIN_TOKEN: ADMIN,
  HOST: '127.0.0.1',
  LLM_PROVIDER: 'endpoint',
  LLM_ENDPOINT_URL: `${fake.url}/v1`,
  LLM_MODEL: 'fake-model',
  ...(process.env.EMBEDDING_MODEL_DIR ? { EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR } : {}),
};
const processes: ServiceProcess[] = [];
const redis = testRedis.redis;
const monitor = await redis.monitor();
const seen: { source: string; args: string[] }[] = [];
monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ source, args }));

/** TCP source addresses of the API's and worker's connections to Redis. */
function ownAddresses(): Set<string> {
  const port = new URL(testRedis.url).port || '6379';
  const pids = processes.map((p) => `pid=${p.child.pid},`);
  const lines = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${port} )`], {
    encoding: 'utf8',
  });
  return new Set(
    lines
      .split('\n')
      .filter((line) => pids.some((pid) => line.includes(pid)))
      .map((line) => line.trim().split(/\s+/)[2]!),
  );
}

const ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|\b\d{3,}\b/gi;
function pattern(key: string | undefined): string {
  if (key === undefined) return '';
  return key.replace(`${testRedis.prefix}:`, '').replace(ID, '*');
}
function label(args: string[]): string {
  const name = args[0]!.toLowerCase();
  if (name === 'evalsha' || name === 'eval') return `${name} (key ${pattern(args[3])})`;
  if (['xread', 'xreadgroup', 'bzpopmin', 'client', 'info', 'ping', 'subscribe', 'script'].includes(name)) {
    return name === 'client' ? `client ${args[1]?.toLowerCase()}` : name;
  }
  return `${name} ${pattern(args[1])}`;
}

async function phase(
  run: () => Promise<void>,
): Promise<{ redis: Map<string, number>; pg: Map<string, number> }> {
  seen.length = 0;
  proxy.take();
  const started = Date.now();
  await run();
  await new Promise((r) => setTimeout(r, Math.max(0, WINDOW_MS - (Date.now() - started))));
  const own = ownAddresses();
  const counts = new Map<string, number>();
  for (const { source, args } of seen) {
    if (!own.has(source)) continue;
    const key = label(args);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { redis: counts, pg: proxy.take() };
}

function report(title: string, phases: Record<string, Map<string, number>>): void {
  const [idle, answered, hit] = [phases.idle!, phases.answered!, phases.hit!];
  const names = [...new Set([...idle.keys(), ...answered.keys(), ...hit.keys()])].sort();
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const rows: (string | number)[][] = [[title, 'idle', 'answered', 'net', 'cache hit', 'net']];
  for (const name of names) {
    const [i, a, h] = [idle.get(name) ?? 0, answered.get(name) ?? 0, hit.get(name) ?? 0];
    rows.push([name, String(i), String(a), String(a - i), String(h), String(h - i)]);
  }
  const [ti, ta, th] = [total(idle), total(answered), total(hit)];
  rows.push(['TOTAL', String(ti), String(ta), String(ta - ti), String(th), String(th - ti)]);
  printTable(rows);
}

try {
  processes.push(await startService('api', { ...env, PORT: '0' }));
  processes.push(await startService('worker', { ...env, WORKER_PORT: '0', MIGRATE_ON_START: 'false' }));
  const api = processes[0]!.url;
  const adminHeaders = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const user = (await (
    await fetch(`${api}/v1/admin/users`, {
      method: 'POST',
      headers: adminHeaders,
      body: '{"tier":"internal"}',
    })
  ).json()) as { api_key: string };
  const headers = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };
  const note = await fetch(`${api}/v1/notes`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ title: 'Wifi', body: 'The home wifi password is maple-sunrise-42.' }),
  });
  if (note.status !== 201) throw new Error(`note: ${note.status}`);

  async function ask(query: string): Promise<number> {
    const res = await fetch(`${api}/v1/queries`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query }),
    });
    const body = (await res.json()) as { links?: { events: string } };
    if (res.status === 202) {
      const events = await fetch(`${api}${body.links!.events}`, { headers });
      await readSse(events.body!, (event) =>
        event.event === 'done' || event.event === 'error' ? 'stop' : undefined,
      );
    }
    return res.status;
  }
  // Warm up: the note indexed, scripts loaded, statements prepared, model warm.
  await new Promise((r) => setTimeout(r, 3_000));
  await ask('Warm-up: what is my wifi password?');
  await ask('Warm-up: what is my wifi password?');
  // The warm-up's background work settles before the idle window opens.
  await new Promise((r) => setTimeout(r, WINDOW_MS));

  const idle = await phase(async () => {});
  const statuses: number[] = [];
  const answered = await phase(async () => {
    statuses.push(await ask('What is my home wifi password?'));
  });
  const hit = await phase(async () => {
    statuses.push(await ask('What is my home wifi password?'));
  });
  if (statuses.join() !== '202,200')
    throw new Error(`expected a new question then a cache hit, got ${statuses}`);

  console.log(
    `command-count.bench: API + 1 worker process; each phase a ${WINDOW_MS / 1000} s window; the question is read ` +
      'by SSE to `done`; one note in the store\n',
  );
  report('Redis command (API + worker)', { idle: idle.redis, answered: answered.redis, hit: hit.redis });
  console.log('');
  report('Postgres statement (API + worker)', { idle: idle.pg, answered: answered.pg, hit: hit.pg });
} finally {
  monitor.disconnect();
  await Promise.allSettled(processes.map((p) => p.stop()));
  await proxy.close();
  await Promise.allSettled([testRedis.cleanup(), database.drop()]);
  await fake.close();
  console.log('cleaned up: processes stopped, Redis prefix and database removed');
}
