import { costLedger, createDb, queries } from '@assistant/db';
import {
  createQueryClient,
  type QueryClient,
  type Stack,
  type SubmitResponse,
  startService,
  startStack,
  startTcpProxy,
  type TcpProxy,
  testServers,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue #10 under load, with real processes: the API's Postgres hangs for a few seconds (every
// byte held, then delivered) while ten clients keep submitting. Every 503 must have accepted
// nothing (no row, no charge, even though its hung steps complete once Postgres resumes), and
// every 2xx must be one query, answered and charged once.
let stack: Stack;
let proxy: TcpProxy;
let client: QueryClient;
let userId: string;

const LOOPS = 10;
const LOAD_MS = 15_000;
const STALL_AT_MS = 3_000;
const STALL_MS = 8_000; // past the 6 s submit deadline
// A few distinct questions, so repeats are answered from the cache (the insertCached path) or
// join one in flight, as well as placed afresh.
const QUESTIONS = ['what is on my list?', 'when is the dentist?', 'who called yesterday?'];

beforeAll(async () => {
  stack = await startStack('submit-refusal', { LLM_PROVIDER: 'extractive' });
  const database = new URL(testServers.databaseUrl);
  proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
  const viaProxy = new URL(stack.database.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  // Only the API goes through the proxy (the worker keeps its own Postgres); a long key cache
  // lets submits past authentication while Postgres hangs, into the submitter.
  await stack.api.stop();
  stack.api = await startService('api', {
    ...stack.env,
    PORT: '0',
    MIGRATE_ON_START: 'false',
    DATABASE_URL: viaProxy.toString(),
    API_KEY_CACHE_TTL_MS: '600000',
  });
  const user = await stack.createUser('internal');
  userId = user.id;
  client = createQueryClient(() => stack.api.url, user.api_key);
}, 90_000);

afterAll(async () => {
  proxy?.setMode('pass');
  await stack?.stop();
  await proxy?.close();
});

type Sent = { key: string; response: SubmitResponse };

describe('submits while the API’s Postgres hangs mid-load', () => {
  it('leaves nothing behind a 503 and answers every 2xx once', async () => {
    expect((await client.submit('refusal load: warm-up')).status).toBe(202);

    const sent: Sent[] = [];
    const start = Date.now();
    const stall = (async () => {
      await new Promise((resolve) => setTimeout(resolve, STALL_AT_MS));
      proxy.setMode('stall');
      await new Promise((resolve) => setTimeout(resolve, STALL_MS));
      proxy.setMode('pass');
    })();
    await Promise.all(
      Array.from({ length: LOOPS }, async (_, loop) => {
        for (let n = 0; Date.now() - start < LOAD_MS; n++) {
          const key = `load-${loop}-${n}`;
          const response = await client.submit(QUESTIONS[n % QUESTIONS.length] ?? '', {
            headers: { 'idempotency-key': key },
            timeoutMs: 15_000,
          });
          sent.push({ key, response });
        }
      }),
    );
    await stall;
    const tally = Object.fromEntries(
      [...new Set(sent.map((s) => s.response.status))].map((status) => [
        status,
        sent.filter((s) => s.response.status === status).length,
      ]),
    );
    console.log('submit-refusal load:', JSON.stringify(tally));

    const withStatus = (...codes: number[]) => sent.filter((s) => codes.includes(s.response.status));
    const refused = withStatus(503);
    const answered = withStatus(200, 202);
    // The drill means something only if both happened.
    expect(refused.length).toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThan(0);
    expect(sent.length - withStatus(200, 202, 429, 503).length).toBe(0);
    for (const s of refused) {
      expect((s.response.body.error as { code?: string }).code).toBe('dependency_unavailable');
    }

    // Every accepted query is answered (the warm-up's too), so the worker is done charging.
    const acceptedIds = new Set(answered.map((s) => s.response.id ?? ''));
    for (const id of acceptedIds) expect((await client.waitFinished(id, 30_000)).status).toBe('succeeded');

    const direct = createDb({ url: stack.database.url, poolSize: 2 });
    try {
      const read = async () => {
        const rows = (await direct.db.select().from(queries)).filter((row) => row.userId === userId);
        const ledger = (await direct.db.select().from(costLedger)).filter((entry) => entry.userId === userId);
        return { rows, ledger };
      };
      // Charges of cached answers travel through the ledger queue: wait until every row has one.
      await waitUntil(
        async () => {
          const { rows, ledger } = await read();
          return ledger.length >= rows.filter((row) => row.status === 'succeeded').length;
        },
        { what: 'ledger caught up', timeoutMs: 20_000, intervalMs: 250 },
      );
      // The 503'd submits' hung steps have long completed by now; give their withdrawals a moment.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const { rows, ledger } = await read();
      const keys = new Set(rows.map((row) => row.idempotencyKey));
      expect(refused.filter((s) => keys.has(s.key)).map((s) => s.key)).toEqual([]);
      // No row nobody was told about: every row is the warm-up or a query some 2xx named.
      const untold = rows.filter((row) => row.idempotencyKey !== null && !acceptedIds.has(row.id));
      expect(untold.map((row) => row.idempotencyKey)).toEqual([]);
      // Charged exactly once each, and only for rows that exist.
      const rowIds = new Set(rows.map((row) => row.id));
      expect(ledger.filter((entry) => !rowIds.has(entry.queryId)).map((entry) => entry.queryId)).toEqual([]);
      expect(new Set(ledger.map((entry) => entry.queryId)).size).toBe(ledger.length);
      expect(ledger.length).toBe(rows.filter((row) => row.status === 'succeeded').length);
    } finally {
      await direct.close();
    }
  }, 90_000);
});
