import { type Stack, startStack, startTcpProxy, type TcpProxy } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A worker whose Postgres goes away: questions wait (their jobs are delayed, no attempt spent)
// and are answered once Postgres is back; their ledger rows land too. The API keeps its own
// connection, so it still accepts questions during the outage.
let stack: Stack;
let proxy: TcpProxy;
let key: string;

beforeAll(async () => {
  stack = await startStack('pg-outage', { LLM_PROVIDER: 'extractive' }, { workers: 0 });
  proxy = await startTcpProxy({ port: Number(new URL(stack.database.url).port || 5432) });
  const viaProxy = new URL(stack.database.url);
  viaProxy.port = String(proxy.port);
  await stack.addWorker({ DATABASE_URL: viaProxy.toString() });
  key = (await stack.createUser()).api_key;
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
});

async function view(id: string, wait = 0) {
  const res = await fetch(`${stack.api.url}/v1/queries/${id}${wait ? `?wait=${wait}` : ''}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return (await res.json()) as { status: string; model: string | null };
}

describe('a Postgres outage under the worker', () => {
  it('holds questions while Postgres is down and answers them, with ledger rows, once it is back', async () => {
    proxy.setMode('reset');
    const ids: string[] = [];
    for (const query of ['What is on my list today?', 'When is the next train?', 'Where did I park?']) {
      const res = await fetch(`${stack.api.url}/v1/queries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    for (const id of ids) expect((await view(id)).status).toMatch(/^(queued|running)$/);

    proxy.setMode('pass');
    for (const id of ids)
      expect(await view(id, 25)).toMatchObject({ status: 'succeeded', model: 'extractive' });

    const sql = postgres(stack.database.url, { max: 1 });
    try {
      for (let i = 0; i < 50; i++) {
        const [row] = await sql`select count(*)::int as n from cost_ledger where query_id in ${sql(ids)}`;
        if (row?.n === ids.length) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const [row] = await sql`select count(*)::int as n from cost_ledger where query_id in ${sql(ids)}`;
      expect(row?.n).toBe(ids.length);
    } finally {
      await sql.end();
    }
  });
});
