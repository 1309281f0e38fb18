import { costLedger, createDb, createQueriesRepo } from '@assistant/db';
import { startTcpProxy, type TcpProxy, testServers } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from './test-app.ts';

// Issue #10: a 503 is not a refusal unless nothing was accepted. Postgres hangs (every byte held)
// past the submit deadline and then resumes, so the submit's hung step completes late: the 503'd
// submit must leave no row, job, in-flight slot or ledger entry behind, and a retry with the same
// Idempotency-Key must be placed afresh.
let proxy: TcpProxy;
let t: Awaited<ReturnType<typeof createTestApp>>;
let direct: ReturnType<typeof createDb>;
let apiKey: string;
let userId: string;

beforeAll(async () => {
  const database = new URL(testServers.databaseUrl);
  proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
  // A long key cache, so authentication does not need Postgres while it hangs.
  t = await createTestApp('submit-refusal', {
    databasePort: proxy.port,
    env: { API_KEY_CACHE_TTL_MS: '600000' },
  });
  direct = createDb({ url: t.database.url, poolSize: 2 });
  const user = await t.createUser();
  apiKey = user.api_key;
  userId = user.id;
}, 60_000);

afterAll(async () => {
  proxy?.setMode('pass');
  await direct?.close();
  await t?.close();
  await proxy?.close();
});

function submit(query: string, idempotencyKey: string) {
  return t.app.request('/v1/queries', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    },
    body: JSON.stringify({ query }),
  });
}

async function jobCount(): Promise<number> {
  const counts = await t.queue.queue.getJobCounts(
    'waiting',
    'active',
    'delayed',
    'completed',
    'failed',
    'prioritized',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('a submit refused at its deadline while Postgres hangs', () => {
  it('answers 503 and leaves nothing once Postgres resumes; a retry with the same key is placed afresh', async () => {
    // Warm-up: caches the API key and proves the path works.
    expect((await submit('refusal drill: warm-up', 'warm-up')).status).toBe(202);
    const before = { jobs: await jobCount(), inFlight: await t.redis.zcard(t.keys.limitsInFlight(userId)) };

    proxy.setMode('stall');
    let refused: Response;
    try {
      refused = await submit('refusal drill: what is on my list?', 'refused-once');
    } finally {
      proxy.setMode('pass');
    }
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('dependency_unavailable');
    expect(body.error.message).toMatch(/not accepted.*safe to retry/);
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);

    // The hung submit now runs on against a live Postgres and reaches its commit step, refused:
    // give it time to do whatever it would do (milliseconds; the stall held only its first query).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const queries = createQueriesRepo(direct.db);
    const left = {
      row: await queries.findByIdempotencyKey(userId, 'refused-once'),
      jobs: await jobCount(),
      inFlight: await t.redis.zcard(t.keys.limitsInFlight(userId)),
      ledger: (await direct.db.select().from(costLedger)).filter((entry) => entry.userId === userId).length,
    };
    expect(left).toEqual({ row: undefined, jobs: before.jobs, inFlight: before.inFlight, ledger: 0 });

    // Documented: nothing was accepted, so the retry is a first submit (202, not a replay).
    const retry = await submit('refusal drill: what is on my list?', 'refused-once');
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await jobCount()).toBe(before.jobs + 1);
    expect((await queries.findByIdempotencyKey(userId, 'refused-once'))?.status).toBe('queued');
  }, 30_000);
});
