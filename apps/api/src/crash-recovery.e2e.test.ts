import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createKeys } from '@assistant/queue';
import {
  createQueryClient,
  mapConcurrent,
  type QueryClient,
  type QueryEventRecord,
  type QueryView,
  readStoredEvents,
  type Stack,
  startStack,
  startTcpProxy,
  summarizeAttempts,
  testServers,
  waitUntil,
} from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 6, "Must show": a worker process SIGKILLed while hundreds of questions are in flight. The
// survivor takes the dead worker's jobs once their locks expire (WORKER_LOCK_MS, checked every
// WORKER_STALLED_INTERVAL_MS); every question ends exactly once and its cost is recorded once.
//
// The lock is 5 s, not 2 s: BullMQ renews it every lock/2 from the event loop, and on this 2-core
// machine the workers' event-loop lag reaches 0.7 s under this load (nodejs_eventloop_lag_max_seconds),
// so a 2 s lock is lost by live workers too. What a live worker that lost its lock then does to a
// stream is the second test's subject, pinned down deterministically with SIGSTOP.
const QUESTIONS = 200;
const LLM_MODEL = 'fake-model';
const LOCK_MS = 5_000;
const STALLED_INTERVAL_MS = 1_000;

let stack: Stack;
let fake: RunningFakeLlm;
let client: QueryClient;
let userId: string;

beforeAll(async () => {
  // 20 tokens at 40/s: each answer streams for ~0.5 s, so a kill lands mid-answer.
  fake = await startFakeLlm({ settings: { answerTokens: 20, tokensPerSecond: 40 } });
  stack = await startStack(
    'crash',
    {
      LLM_PROVIDER: 'endpoint',
      LLM_ENDPOINT_URL: `${fake.url}/v1`,
      LLM_MODEL,
      WORKER_CONCURRENCY: '16',
      WORKER_LOCK_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
      TIERS_JSON: JSON.stringify({
        free: { perMinute: 100_000, perHour: 100_000, perDay: 100_000, maxInFlight: 1000, maxRunning: 1000 },
      }),
      GLOBAL_QUERIES_PER_HOUR: '100000',
    },
    { workers: 2 },
  );
  const user = await stack.createUser();
  userId = user.id;
  client = createQueryClient(() => stack.api.url, user.api_key);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

describe('a worker killed mid-answer', () => {
  it('loses no question: each of 200 ends once, the killed ones restart visibly, and each cost is recorded once', async () => {
    const texts = Array.from(
      { length: QUESTIONS },
      (_, i) => `Crash drill ${i}: what did I write down about item number ${i}?`,
    );
    const submitted = await mapConcurrent(texts, 20, (text) => client.submit(text));
    expect(submitted.map((s) => s.status)).toEqual(texts.map(() => 202));
    const ids = submitted.map((s) => s.id!);
    expect(new Set(ids).size).toBe(QUESTIONS); // distinct texts: no single-flight merging

    // Kill once the work is well under way: answers have finished and many are streaming.
    await waitUntil(() => fake.counters().requests >= 40 && fake.counters().inFlight >= 8, {
      what: 'answers streaming from both workers',
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    const [victim, survivor] = stack.workers as [Stack['workers'][0], Stack['workers'][0]];
    victim.child.kill('SIGKILL');
    const finishedBeforeKill = fake.counters().outcomes.ok - fake.counters().inFlight;
    expect(finishedBeforeKill).toBeLessThan(QUESTIONS / 2);

    const views: QueryView[] = await mapConcurrent(ids, 40, (id) => client.waitFinished(id, 90_000));
    expect(survivor.child.exitCode).toBeNull();
    expect(victim.child.signalCode).toBe('SIGKILL');

    // The Redis Stream holds everything ever published for a query (SSE stops at the first
    // terminal event, so a second one would only show here).
    const keys = createKeys(stack.redis.prefix);
    const logs = await mapConcurrent(ids, 20, (id) => readStoredEvents(stack.redis.redis, keys.events(id)));
    // Each kind of violation is listed with the queries involved (soft: one run reports all kinds).
    const notOneEnding: string[] = [];
    const eventsAfterEnding: string[] = [];
    const notAnswered: string[] = [];
    const spliced: string[] = [];
    const restarted: string[] = [];
    const interrupted: string[] = [];
    logs.forEach((events, i) => {
      const view = views[i]!;
      const summary = summarizeAttempts(events);
      const where = `${view.id} ${view.status} ${view.model} (${events.map((e) => e.type).join(',')})`;
      const ending = summary.terminals[0];
      if (summary.terminals.length !== 1 || events.filter((e) => e.type === 'queued').length !== 1) {
        notOneEnding.push(where);
      } else if (events.at(-1) !== ending) {
        eventsAfterEnding.push(where);
      }
      // Every question is answered, by the model: a crash is no reason to fail or degrade one.
      const result = ending?.payload.result as { answer?: string; model?: string } | undefined;
      if (
        view.status !== 'succeeded' ||
        view.model !== LLM_MODEL ||
        ending?.type !== 'done' ||
        result?.answer !== view.answer ||
        result?.model !== LLM_MODEL
      ) {
        notAnswered.push(where);
      }
      // A client that starts over at each `started` shows exactly the stored answer.
      if (view.status === 'succeeded' && summary.finalText !== view.answer) spliced.push(where);
      if (summary.starts > 1) restarted.push(view.id);
      if (summary.interrupted) interrupted.push(view.id);
    });
    expect.soft(notOneEnding, 'streams without exactly one queued and one terminal event').toEqual([]);
    expect.soft(eventsAfterEnding, 'streams with events after their terminal event').toEqual([]);
    expect
      .soft(notAnswered, 'questions not answered by the model, or answered unlike their done')
      .toEqual([]);
    expect.soft(spliced, 'streams whose last attempt does not spell the stored answer').toEqual([]);
    // The victim was mid-answer on some questions: their streams show a second `started`.
    expect.soft(interrupted.length, 'answers cut by the kill').toBeGreaterThan(0);
    expect
      .soft(
        interrupted.filter((id) => !restarted.includes(id)),
        'cut answers without a restart',
      )
      .toEqual([]);

    // What an SSE client replaying each stream sees: the same events, ending with the one `done`.
    // (Bounded: a stream without a terminal event would be tailed forever.)
    const replays = await mapConcurrent(ids, 20, (id) =>
      client.readEvents(id, { signal: AbortSignal.timeout(5_000) }).catch(() => []),
    );
    const replayedUnlikeLog = ids.filter(
      (_id, i) =>
        replays[i]!.map((e) => e.id).join() !== logs[i]!.map((e) => e.id).join() ||
        replays[i]!.at(-1)?.type !== 'done',
    );
    expect
      .soft(replayedUnlikeLog, 'SSE replays that differ from the log or do not end with done')
      .toEqual([]);

    const sql = postgres(stack.database.url, { max: 1, onnotice: () => {} });
    try {
      // Ledger rows are written with the answers' rows; wait for the last one all the same.
      await waitUntil(
        async () => {
          const [row] = await sql<{ n: number }[]>`select count(*)::int as n from cost_ledger`;
          return (row?.n ?? 0) >= QUESTIONS;
        },
        { what: 'one ledger row per answered question', timeoutMs: 30_000, intervalMs: 200 },
      );
      // Give a late duplicate the chance to show up before counting.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const ledger = await sql<{ query_id: string; cost_micros: string; cached: boolean }[]>`
        select query_id, cost_micros::text, cached from cost_ledger`;
      expect.soft(ledger).toHaveLength(QUESTIONS);
      expect.soft(new Set(ledger.map((r) => r.query_id))).toEqual(new Set(ids));
      // The ledger agrees with what each query was charged.
      const charged = await sql<{ id: string; cost_micros: string }[]>`
        select id, cost_micros::text from queries where status = 'succeeded'`;
      expect.soft(charged).toHaveLength(QUESTIONS);
      const chargedById = new Map(charged.map((r) => [r.id, r.cost_micros]));
      expect
        .soft(
          ledger
            .filter((r) => r.cost_micros !== chargedById.get(r.query_id) || !(Number(r.cost_micros) > 0))
            .map((r) => `${r.query_id}: ledger ${r.cost_micros}, query ${chargedById.get(r.query_id)}`),
          'ledger rows unlike what the query was charged',
        )
        .toEqual([]);

      // The daily aggregates moved once per ledger row.
      const [sums] = await sql<
        { queries: number; cost: string; prompt: string; completion: string; hits: number }[]
      >`select count(*)::int as queries, coalesce(sum(cost_micros), 0)::text as cost,
          coalesce(sum(prompt_tokens), 0)::text as prompt, coalesce(sum(completion_tokens), 0)::text as completion,
          count(*) filter (where cached)::int as hits
        from cost_ledger`;
      const [userTotals] = await sql<
        { queries: number; cost: string; prompt: string; completion: string; hits: number }[]
      >`select coalesce(sum(queries), 0)::int as queries, coalesce(sum(cost_micros), 0)::text as cost,
          coalesce(sum(prompt_tokens), 0)::text as prompt, coalesce(sum(completion_tokens), 0)::text as completion,
          coalesce(sum(cache_hits), 0)::int as hits
        from user_api_costs`;
      const [globalTotals] = await sql<{ queries: number; cost: string }[]>`
        select coalesce(sum(queries), 0)::int as queries, coalesce(sum(cost_micros), 0)::text as cost
        from global_daily_costs`;
      expect.soft(userTotals, 'user_api_costs against the ledger').toEqual(sums);
      expect.soft(globalTotals, 'global_daily_costs against the ledger').toEqual({
        queries: sums!.queries,
        cost: sums!.cost,
      });
      expect.soft(sums!.queries).toBe(QUESTIONS);
    } finally {
      await sql.end();
    }
  }, 180_000);

  it('keeps a worker that stalled past its lock and came back from writing into a stream another worker finished', async () => {
    // A frozen process (GC pause, VM freeze, event loop blocked) is SIGSTOP: its lock lapses, a
    // fresh worker takes the job over and finishes it; then the frozen one wakes up mid-answer.
    const [zombie] = stack.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(zombie).toBeDefined();
    fake.update({ tokensPerSecond: 10 }); // 20 tokens over 2 s
    try {
      const submitted = await client.submit('Zombie drill: what did I note about the garden shed?');
      expect(submitted.status).toBe(202);
      const id = submitted.id!;
      await client.readEvents(id, { until: (e) => e.type === 'token' }); // it is mid-answer
      zombie!.child.kill('SIGSTOP');
      try {
        await stack.addWorker();
        const view = await client.waitFinished(id, 30_000);
        expect(view.status).toBe('succeeded');
      } finally {
        zombie!.child.kill('SIGCONT');
      }
      // Let the woken worker run on: it reads the rest of its LLM stream and tries to finish.
      await waitUntil(() => fake.counters().inFlight === 0, { what: 'the fake LLM idle', timeoutMs: 15_000 });
      await new Promise((resolve) => setTimeout(resolve, 2_000));

      const view = await client.view(id);
      const events = await readStoredEvents(stack.redis.redis, createKeys(stack.redis.prefix).events(id));
      const summary = summarizeAttempts(events);
      const where = events.map((e) => e.type).join(',');
      expect(summary.starts, where).toBeGreaterThanOrEqual(2); // the takeover is visible
      expect(summary.terminals, where).toHaveLength(1);
      expect(events.at(-1)?.type, where).toBe('done'); // nothing after the end of the stream
      expect(summary.finalText, where).toBe(view.answer); // no tokens of two attempts spliced
    } finally {
      fake.update({ tokensPerSecond: 40 });
    }
  }, 60_000);
});

/**
 * Runs one question on a worker that is then SIGKILLed at a chosen point of its last step, and
 * lets a healthy worker recover the job. Only that worker may take the question: the others are
 * stopped first. Its Redis traffic goes through a proxy that is slowed down once the answer is
 * generating, which stretches the last step's Redis writes into windows wide enough to aim at.
 */
async function killDuringLastStep(
  query: string,
  killWhen: (id: string, sql: postgres.Sql) => Promise<boolean>,
): Promise<{ id: string; events: QueryEventRecord[]; sql: postgres.Sql; close(): Promise<void> }> {
  await Promise.all(stack.workers.map((w) => w.stop('SIGTERM')));
  const redisUrl = new URL(testServers.redisUrl);
  const proxy = await startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  const sql = postgres(stack.database.url, { max: 1, onnotice: () => {} });
  const close = async () => {
    await sql.end();
    await proxy.close();
  };
  try {
    const doomed = await stack.addWorker({ REDIS_URL: proxy.url('redis', redisUrl.pathname) });
    const submitted = await client.submit(query);
    expect(submitted.status).toBe(202);
    const id = submitted.id!;
    await client.readEvents(id, { until: (e) => e.type === 'token' }); // generating
    proxy.setLatency(800);
    await waitUntil(() => killWhen(id, sql), {
      what: 'the moment to kill',
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    doomed.child.kill('SIGKILL');
    proxy.setLatency(0);

    // A healthy worker recovers the stalled job once its lock has expired.
    await stack.addWorker();
    const key = createKeys(stack.redis.prefix).events(id);
    let events = await readStoredEvents(stack.redis.redis, key);
    await waitUntil(
      async () => {
        events = await readStoredEvents(stack.redis.redis, key);
        return summarizeAttempts(events).terminals.length > 0;
      },
      { what: 'a terminal event', timeoutMs: LOCK_MS + STALLED_INTERVAL_MS + 15_000, intervalMs: 200 },
    ).catch(() => {}); // the caller's assertions say what is missing
    return { id, events, sql, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Keys of the user's exact answer cache right now (SCAN; tests only). */
async function answerCacheKeys(): Promise<number> {
  const pattern = `${createKeys(stack.redis.prefix).prefix}:answer:{${userId}}:*`;
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await stack.redis.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

describe('a worker killed in the last step of an answer', () => {
  it('still publishes the ending when it died between storing the answer and announcing it', async () => {
    const run = await killDuringLastStep(
      'Last-gasp drill: what did I note about the boiler?',
      async (id, sql) => {
        const [row] = await sql<{ status: string }[]>`select status from queries where id = ${id}`;
        return row?.status === 'succeeded';
      },
    );
    try {
      const where = run.events.map((e) => e.type).join(',');
      expect(
        summarizeAttempts(run.events).terminals.map((e) => e.type),
        where,
      ).toEqual(['done']);
      expect(run.events.at(-1)?.type, where).toBe('done');
    } finally {
      await run.close();
    }
  }, 90_000);

  it('charges the query what the ledger records when it died between caching the answer and storing it', async () => {
    const cachedBefore = await answerCacheKeys();
    const run = await killDuringLastStep(
      'Last-gasp drill: what did I note about the attic window?',
      async () => (await answerCacheKeys()) > cachedBefore,
    );
    try {
      const view = await client.waitFinished(run.id, 10_000);
      expect(view.status).toBe('succeeded');
      await waitUntil(
        async () => (await run.sql`select 1 from cost_ledger where query_id = ${run.id}`).length === 1,
        { what: 'the ledger row', timeoutMs: 15_000, intervalMs: 200 },
      );
      const [ledger] = await run.sql<{ cost_micros: string; cached: boolean }[]>`
        select cost_micros::text, cached from cost_ledger where query_id = ${run.id}`;
      const [charged] = await run.sql<{ cost_micros: string; cached: boolean }[]>`
        select cost_micros::text, cached from queries where id = ${run.id}`;
      // One truth about what this answer cost: the ledger row (what the budget was charged) and
      // the query row (what the client is shown) agree.
      expect.soft(charged, 'query row against ledger row').toEqual(ledger);
      expect.soft(view.cost_usd, 'cost_usd shown to the client').toBe(Number(ledger!.cost_micros) / 1e6);
    } finally {
      await run.close();
    }
  }, 90_000);
});
