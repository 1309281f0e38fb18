import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  createTestDatabase,
  createTestRedis,
  type ServiceProcess,
  startService,
  type TestDatabase,
  type TestRedis,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The production build as the image runs it: `node scripts/build.mjs`, then `node
// apps/<app>/dist/main.js` (no tsx) with NODE_ENV=production, on real Redis and Postgres.
const root = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_TOKEN = 'production-build-admin-token';
let redis: TestRedis;
let database: TestDatabase;
let api: ServiceProcess;
let worker: ServiceProcess;

beforeAll(async () => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs', 'api', 'worker'], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(build.status, build.stderr).toBe(0);
  [redis, database] = await Promise.all([createTestRedis('prod-build'), createTestDatabase('prod-build')]);
  const env = {
    NODE_ENV: 'production',
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    DATABASE_URL: database.url,
    ADMIN_TOKEN,
    HOST: '127.0.0.1',
    ...(process.env.EMBEDDING_MODEL_DIR ? { EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR } : {}),
  };
  // The API migrates on start; the worker waits for it, as in compose and Kubernetes.
  api = await startService('api', { ...env, PORT: '0' }, { built: true });
  worker = await startService(
    'worker',
    { ...env, WORKER_PORT: '0', MIGRATE_ON_START: 'false' },
    { built: true },
  );
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop()]);
  await Promise.allSettled([redis?.cleanup(), database?.drop()]);
});

describe('the production build', () => {
  it('runs as plain node processes, with no TypeScript loader', () => {
    for (const service of [api, worker]) {
      expect(service.child.spawnargs.slice(1)).toEqual([
        expect.stringMatching(/^apps\/(api|worker)\/dist\/main\.js$/),
      ]);
    }
  });

  it('is ready, serves its static pages, and answers a question from a note end to end', async () => {
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    for (const path of ['/app', '/app/app.js', '/admin/login', '/docs']) {
      expect({ path, status: (await fetch(`${api.url}${path}`)).status }).toEqual({ path, status: 200 });
    }
    const user = (await (
      await fetch(`${api.url}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as { api_key: string };
    const headers = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };
    const note = (await (
      await fetch(`${api.url}/v1/notes`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ title: 'Boiler', body: 'The boiler service is booked for the 3rd of March.' }),
      })
    ).json()) as { id: string };
    await waitUntil(
      async () => {
        const view = (await (await fetch(`${api.url}/v1/notes/${note.id}`, { headers })).json()) as {
          index_status: string;
        };
        return view.index_status === 'indexed';
      },
      { timeoutMs: 30_000, what: 'the note indexed' },
    );
    const submitted = (await (
      await fetch(`${api.url}/v1/queries`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: 'When is the boiler service?' }),
      })
    ).json()) as { links: { self: string } };
    const view = (await (await fetch(`${api.url}${submitted.links.self}?wait=20`, { headers })).json()) as {
      status: string;
      sources: { title: string }[];
    };
    expect(view.status).toBe('succeeded');
    expect(view.sources.map((s) => s.title)).toContain('Boiler');
  }, 60_000);
});
