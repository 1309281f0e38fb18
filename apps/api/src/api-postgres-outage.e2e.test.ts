import {
  createQueryClient,
  type QueryClient,
  type Stack,
  startService,
  startStack,
  startTcpProxy,
  type TcpProxy,
  testServers,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The API's side of a Postgres outage (the worker's side is postgres-outage.e2e.test.ts). The
// design's contract for a dependency that is down: 503 with Retry-After and the code
// dependency_unavailable, never a 500, and back to normal by itself.
let stack: Stack;
let proxy: TcpProxy;
let client: QueryClient;
let apiKey: string;

beforeAll(async () => {
  stack = await startStack('api-pg-outage', { LLM_PROVIDER: 'extractive' }, { workers: 0 });
  const database = new URL(testServers.databaseUrl);
  proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
  const viaProxy = new URL(stack.database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  // The stack's API talks to Postgres directly; swap in one that goes through the proxy.
  await stack.api.stop();
  stack.api = await startService('api', {
    ...stack.env,
    PORT: '0',
    MIGRATE_ON_START: 'false',
    DATABASE_URL: viaProxy.toString(),
  });
  apiKey = (await stack.createUser()).api_key;
  client = createQueryClient(() => stack.api.url, apiKey);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
});

describe('the API while Postgres is down', () => {
  it('answers 503 + Retry-After (not 500) and recovers by itself', async () => {
    // A first request caches the API key in the API process, as in steady traffic.
    expect((await client.submit('Postgres drill: what is first on my list?')).status).toBe(202);

    proxy.setMode('reset');
    try {
      const submitted = await client.submit('Postgres drill: what is second on my list?', {
        timeoutMs: 8_000,
      });
      const notes = await fetch(`${stack.api.url}/v1/notes`, {
        headers: { authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(8_000),
      });
      const ready = await fetch(`${stack.api.url}/readyz`, { signal: AbortSignal.timeout(8_000) });
      const seen = {
        submit: {
          status: submitted.status,
          code: (submitted.body.error as { code?: string } | undefined)?.code,
          retryAfter: submitted.headers.get('retry-after'),
        },
        notes: {
          status: notes.status,
          code: ((await notes.json()) as { error?: { code?: string } }).error?.code,
          retryAfter: notes.headers.get('retry-after'),
        },
        readyz: ready.status,
      };
      expect.soft(seen).toEqual({
        submit: {
          status: 503,
          code: 'dependency_unavailable',
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
        },
        notes: {
          status: 503,
          code: 'dependency_unavailable',
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
        },
        readyz: 503,
      });
    } finally {
      proxy.setMode('pass');
    }

    await waitUntil(
      async () => (await client.submit(`Postgres drill: after the outage ${Date.now()}`)).status === 202,
      { what: 'submits accepted again', timeoutMs: 10_000, intervalMs: 250 },
    );
    expect((await fetch(`${stack.api.url}/readyz`)).status).toBe(200);
  }, 60_000);
});
