import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createBudget } from '@assistant/limits';
import { createKeys } from '@assistant/queue';
import { type Stack, startStack, waitUntil } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The money trail end to end: real API and worker processes answer through the fake LLM over
// real HTTP; each answer's row is stored with its ledger entry; the Redis budget counters, the ledger, the query
// rows and GET /v1/usage must then agree to the micro-dollar.
const INPUT_NANOS = 200; // LLM_PRICE_INPUT_USD 0.0000002
const OUTPUT_NANOS = 600; // LLM_PRICE_OUTPUT_USD 0.0000006
const QUESTIONS = [
  'What should I pack for the ski trip?',
  'Summarise my notes about the kitchen renovation budget',
  'Which books did I want to read this winter?',
  'What did the plumber say about the boiler?',
];

type LedgerRow = {
  query_id: string;
  day: string;
  model: string;
  provider: string;
  prompt_tokens: number;
  completion_tokens: number;
  input_nanos_per_token: number;
  output_nanos_per_token: number;
  cost_micros: number;
  cached: boolean;
};
type QueryRow = {
  id: string;
  status: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
  cached: boolean;
};
type View = { id: string; status: string; answer: string; cached: boolean; cost_usd: number };
type Usage = {
  days: { day: string; queries: number; cache_hits: number; cost_usd: number }[];
  totals: {
    queries: number;
    cache_hits: number;
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number;
  };
  budget: { spent_usd: number; reserved_usd: number };
};

let stack: Stack;
let fake: RunningFakeLlm;
let sql: postgres.Sql;
let user: { id: string; api_key: string };
const views: View[] = [];
let cacheHit: View;
let fallback: View;
const ANSWERED = QUESTIONS.length + 2; // the LLM's answers, one cache hit, one offline fallback

function call(method: string, path: string, body?: unknown) {
  return fetch(`${stack.api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${user.api_key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function ask(query: string): Promise<View> {
  const res = await call('POST', '/v1/queries', { query });
  if (res.status === 200) return (await res.json()) as View;
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
  const { links } = (await res.json()) as { links: { self: string } };
  return (await (await call('GET', `${links.self}?wait=20`)).json()) as View;
}

const micros = (usd: number) => Math.round(usd * 1e6);

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 30 } });
  stack = await startStack('ledger-e2e', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    LLM_PRICE_INPUT_USD: '0.0000002',
    LLM_PRICE_OUTPUT_USD: '0.0000006',
  });
  sql = postgres(stack.database.url, { max: 2, onnotice: () => {} });
  user = await stack.createUser('free');

  // Four distinct questions answered by the LLM, then the first again (an exact-cache hit).
  for (const question of QUESTIONS) views.push(await ask(question));
  cacheHit = await ask(QUESTIONS[0]!);
  // The LLM fails every try: the offline extractive answer stands in, and the worst case the
  // worker reserved before generating must come back in full.
  fake.update({ failNext: 1, errorKinds: ['server_error'] });
  fallback = await ask('What is the name of the vet on Elm Street?');
  // Every answered query gets exactly one ledger row, written with its answer.
  await waitUntil(
    async () => {
      const [row] = await sql<
        { n: number }[]
      >`select count(*)::int as n from cost_ledger where user_id = ${user.id}`;
      return row!.n >= ANSWERED;
    },
    { what: 'the ledger rows of every answered query', timeoutMs: 20_000 },
  );
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await stack?.stop();
  await fake?.close();
});

describe('cost ledger reconciliation', () => {
  it('answers through the LLM at a cost, the repeat from the cache and the LLM outage offline, both free', () => {
    for (const view of views) {
      expect(view).toMatchObject({ status: 'succeeded', cached: false });
      expect(view.cost_usd).toBeGreaterThan(0);
    }
    expect(cacheHit).toMatchObject({ status: 'succeeded', cached: true, cost_usd: 0 });
    expect(cacheHit.answer).toBe(views[0]!.answer);
    expect(cacheHit.id).not.toBe(views[0]!.id);
    expect(fallback).toMatchObject({ status: 'succeeded', cached: false, cost_usd: 0 });
    // One LLM call per fresh question, one failed call for the fallback, none for the cache hit.
    expect(fake.counters().requests).toBe(QUESTIONS.length + 1);
  });

  it('writes one ledger row per answered query, each priced as prompt×input + completion×output rounded up', async () => {
    const rows = await sql<LedgerRow[]>`
      select query_id, day::text as day, model, provider, prompt_tokens, completion_tokens,
             input_nanos_per_token, output_nanos_per_token, cost_micros::int as cost_micros, cached
      from cost_ledger where user_id = ${user.id}`;
    const byId = new Map(rows.map((r) => [r.query_id, r]));
    expect(rows).toHaveLength(ANSWERED);
    expect(byId.size).toBe(rows.length);
    const today = new Date().toISOString().slice(0, 10);

    const queries = await sql<QueryRow[]>`
      select id, status, prompt_tokens, completion_tokens, cost_micros::int as cost_micros, cached
      from queries where user_id = ${user.id}`;
    expect(queries).toHaveLength(ANSWERED);
    for (const query of queries) {
      const row = byId.get(query.id);
      expect(row, `ledger row of ${query.id}`).toBeDefined();
      expect(row!.day).toBe(today);
      expect(row!.prompt_tokens).toBe(query.prompt_tokens);
      expect(row!.completion_tokens).toBe(query.completion_tokens);
      expect(row!.cost_micros).toBe(query.cost_micros);
      expect(row!.cached).toBe(query.cached);
    }

    for (const view of views) {
      const row = byId.get(view.id)!;
      expect(row).toMatchObject({
        model: 'fake-model',
        provider: 'endpoint',
        cached: false,
        input_nanos_per_token: INPUT_NANOS,
        output_nanos_per_token: OUTPUT_NANOS,
        completion_tokens: 30,
      });
      expect(row.prompt_tokens).toBeGreaterThan(0);
      const exact = row.prompt_tokens * INPUT_NANOS + row.completion_tokens * OUTPUT_NANOS;
      expect(row.cost_micros).toBe(Math.ceil(exact / 1000));
      expect(micros(view.cost_usd)).toBe(row.cost_micros);
    }

    expect(byId.get(cacheHit.id)).toMatchObject({
      cached: true,
      cost_micros: 0,
      prompt_tokens: 0,
      completion_tokens: 0,
    });
    expect(byId.get(fallback.id)).toMatchObject({
      model: 'extractive',
      provider: 'extractive',
      cached: false,
      cost_micros: 0,
      input_nanos_per_token: 0,
      output_nanos_per_token: 0,
    });
  });

  it('agrees to the micro-dollar: ledger = Redis budget counter = /v1/usage = query rows = daily aggregates', async () => {
    const [ledger] = await sql<{ total: number; n: number }[]>`
      select coalesce(sum(cost_micros), 0)::int as total, count(*)::int as n
      from cost_ledger where user_id = ${user.id}`;
    const [rows] = await sql<{ total: number }[]>`
      select coalesce(sum(cost_micros), 0)::int as total from queries where user_id = ${user.id}`;
    const [daily] = await sql<{ total: number; queries: number; hits: number }[]>`
      select coalesce(sum(cost_micros), 0)::int as total, coalesce(sum(queries), 0)::int as queries,
             coalesce(sum(cache_hits), 0)::int as hits
      from user_api_costs where user_id = ${user.id}`;
    const [global] = await sql<{ total: number }[]>`
      select coalesce(sum(cost_micros), 0)::int as total from global_daily_costs`;

    const spent = await createBudget(stack.redis.redis, createKeys(stack.redis.prefix)).spent(user.id);
    const usage = (await (await call('GET', '/v1/usage')).json()) as Usage;

    const expected = views.reduce((sum, v) => sum + micros(v.cost_usd), 0);
    expect(ledger!.total).toBe(expected);
    expect(spent.userMicros).toBe(ledger!.total);
    expect(spent.userReservedMicros).toBe(0); // every reservation settled
    expect(spent.globalMicros).toBe(ledger!.total); // the only user of this stack
    expect(micros(usage.totals.cost_usd)).toBe(ledger!.total);
    expect(micros(usage.budget.spent_usd)).toBe(ledger!.total);
    expect(usage.budget.reserved_usd).toBe(0);
    expect(rows!.total).toBe(ledger!.total);
    expect(daily!.total).toBe(ledger!.total);
    expect(global!.total).toBe(ledger!.total);

    // The cache hit counts as a query and a cache hit, at no cost.
    expect(usage.totals.queries).toBe(ledger!.n);
    expect(usage.totals.cache_hits).toBe(1);
    expect(daily).toMatchObject({ queries: ledger!.n, hits: 1 });
    const tokens = await sql<{ p: number; c: number }[]>`
      select sum(prompt_tokens)::int as p, sum(completion_tokens)::int as c
      from cost_ledger where user_id = ${user.id}`;
    expect(usage.totals.prompt_tokens).toBe(tokens[0]!.p);
    expect(usage.totals.completion_tokens).toBe(tokens[0]!.c);
  });
});
