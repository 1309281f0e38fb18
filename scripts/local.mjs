#!/usr/bin/env node
// `npm start`: runs the API and one worker for local use.
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

function run(name, script, extra = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...env, ...extra },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
}

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

execFileSync(process.execPath, ['scripts/setup-model.mjs'], { stdio: 'inherit', env });
await ensureRedis();
await ensureDatabase();
ensureAdminToken();
const port = env.PORT ?? '3000';
run('api', 'apps/api/src/main.ts');
// The API migrates; the worker waits a moment so both do not race to print the same errors.
setTimeout(() => run('worker', 'apps/worker/src/main.ts', { MIGRATE_ON_START: 'false' }), 1500);
console.log(`
assistant-service is starting on http://127.0.0.1:${port}
LLM: ${env.LLM_PROVIDER ?? (env.LLM_ENDPOINT_URL ? 'endpoint' : env.HF_TOKEN ? 'hf' : 'extractive (offline; set HF_TOKEN or LLM_ENDPOINT_URL for a real LLM)')}
Create a user and API key:
  npm run cli -- create-user --tier free
or
  curl -s -X POST http://127.0.0.1:${port}/v1/admin/users -H "Authorization: Bearer $(cat .local/admin-token)" \\
       -H 'Content-Type: application/json' -d '{"tier":"free"}'
`);
