#!/usr/bin/env node
// `npm start`: runs the API and the worker for local use, each as one process per core
// (API_PROCESSES / WORKER_PROCESSES default to `auto` here; set them to override).
// - loads .env if present;
// - fetches the embedding model if missing (scripts/setup-model.mjs);
// - REDIS_URL unset: uses redis://127.0.0.1:6379 if it answers, else starts `redis-server` on a
//   free port if it is installed, else exits saying how to get Redis;
// - DATABASE_URL unset: uses postgres://postgres@127.0.0.1:5432/assistant, creating the database;
// - ADMIN_TOKEN unset: generates one and keeps it in .local/admin-token;
// - with no HF_TOKEN and no LLM_ENDPOINT_URL, answers with the offline extractive answerer.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
if (existsSync('.env')) process.loadEnvFile('.env');

const env = { ...process.env };
// One host and no orchestrator to add replicas: use its cores (the apps default to 1, for containers).
env.API_PROCESSES ||= 'auto';
env.WORKER_PROCESSES ||= 'auto';
const children = [];

function canConnect(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function onPath(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function ensureRedis() {
  if (env.REDIS_URL) return;
  if (await canConnect(6379)) {
    env.REDIS_URL = 'redis://127.0.0.1:6379';
    return;
  }
  if (!onPath('redis-server')) {
    console.error(
      'No Redis: set REDIS_URL, start one on 127.0.0.1:6379, or install it (apt-get install redis-server,\n' +
        'brew install redis, or `docker compose -f infra/compose.yaml up -d redis`).',
    );
    process.exit(1);
  }
  const port = await freePort();
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  children.push(redis);
  for (let i = 0; i < 50 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 100));
  env.REDIS_URL = `redis://127.0.0.1:${port}`;
  console.log(`started redis-server on port ${port} (data is not kept)`);
}

async function ensureDatabase() {
  if (env.DATABASE_URL) return;
  if (!(await canConnect(5432))) {
    console.error(
      'No Postgres: set DATABASE_URL, or start one on 127.0.0.1:5432\n' +
        '(`docker compose -f infra/compose.yaml up -d postgres`).',
    );
    process.exit(1);
  }
  env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/assistant';
  const { default: postgres } = await import('postgres');
  const sql = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = 'assistant'`;
    if (rows.length === 0) await sql.unsafe('create database assistant');
  } finally {
    await sql.end();
  }
}

function ensureAdminToken() {
  if (env.ADMIN_TOKEN) return;
  const file = join('.local', 'admin-token');
  if (!existsSync(file)) {
    mkdirSync('.local', { recursive: true });
    writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
  }
  env.ADMIN_TOKEN = readFileSync(file, 'utf8').trim();
}

// Children get an IPC channel: when this runner dies (even by SIGKILL) the channel closes and the
// apps shut themselves down (they listen for 'disconnect'), so no child outlives `npm start`.
function run(name, script, extra = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...env, ...extra },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.name = name;
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      // A child killed by the stop signal itself (it shares our process group, and a signal that
      // lands before its handlers are installed kills it outright) stopped as asked.
      const stoppedBySignal = stopping && (signal === 'SIGTERM' || signal === 'SIGINT');
      if (code !== 0 && !stoppedBySignal) failed = true;
      if (!stopping) console.error(`${name} exited (${signal ?? code}); stopping`);
      resolve();
      if (!stopping) void stop(1);
    });
  });
  children.push(child);
  return child;
}

function exitOf(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return child.exited ?? new Promise((resolve) => child.once('exit', resolve));
}

/** Resolves once the child says it is ready (listening), or false if it exits first. */
function ready(child) {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message === 'ready'));
    child.once('exit', () => resolve(false));
  });
}

let stopping = false;
let failed = false;
const graceMs = Number(env.SHUTDOWN_GRACE_MS ?? 10_000) + 2_000;
/** Stops every child, waits for them (bounded by the grace period), exits non-zero if one failed. */
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const waited = Promise.all(children.map(exitOf));
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), graceMs));
  if ((await Promise.race([waited, timeout])) === 'timeout') {
    console.error('children did not stop within the grace period; killing them');
    for (const child of children) child.kill('SIGKILL');
    failed = true;
  }
  process.exit(failed ? 1 : code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

/** Runs a setup step as a child (not execFileSync, which would block signal handling). */
function runStep(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env });
    children.push(child);
    child.once('exit', (code) => {
      children.splice(children.indexOf(child), 1);
      resolve(code);
    });
  });
}

if ((await runStep(['scripts/setup-model.mjs'])) !== 0 && !stopping) {
  console.error('could not set up the embedding model (see above)');
  process.exit(1);
}
// A stop requested meanwhile ends the process from stop(); the pending await only keeps it from
// starting anything more.
const stopped = () => new Promise(() => {});
if (stopping) await stopped();
await ensureRedis();
await ensureDatabase();
ensureAdminToken();
if (!env.WORKER_PORT) {
  env.WORKER_PORT = String(await freePort());
  console.log(`worker health port: ${env.WORKER_PORT} (set WORKER_PORT to choose one)`);
}
const port = env.PORT ?? '3000';
if (stopping) await stopped();
const api = run('api', 'apps/api/src/main.ts');
// The API migrates; the worker starts once it listens so both do not race to migrate.
if (!(await ready(api)) || stopping) await stopped();
run('worker', 'apps/worker/src/main.ts', { MIGRATE_ON_START: 'false' });
console.log(`
assistant-service is starting on http://127.0.0.1:${port}
Processes: API ${env.API_PROCESSES}, worker ${env.WORKER_PROCESSES} (one per core with auto; set API_PROCESSES / WORKER_PROCESSES)
LLM: ${env.LLM_PROVIDER ?? (env.LLM_ENDPOINT_URL ? 'endpoint' : env.HF_TOKEN ? 'hf' : 'extractive (offline; set HF_TOKEN or LLM_ENDPOINT_URL for a real LLM)')}
Create a user and API key:
  npm run cli -- create-user --tier free
or
  curl -s -X POST http://127.0.0.1:${port}/v1/admin/users -H "Authorization: Bearer $(cat .local/admin-token)" \\
       -H 'Content-Type: application/json' -d '{"tier":"free"}'
`);
