import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import {
  createQueryClient,
  type QueryClient,
  STACK_ADMIN_TOKEN,
  type Stack,
  startStack,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Flags and experiments across real processes: an API and a worker process on real Redis and
// Postgres, answering through the fake LLM (which echoes the model it was asked for). A flag
// changed through the API reaches the running worker (same process, no restart) within
// FLAGS_REFRESH_MS, and an experiment's variant model is the model the worker asks.
const LLM_MODEL = 'fake-model';
let stack: Stack;
let fake: RunningFakeLlm;
let asked = 0;

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 6, tokensPerSecond: 0 } });
  stack = await startStack('rollout', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL,
    FLAGS_REFRESH_MS: '300',
    EXPERIMENTS_REFRESH_MS: '300',
  });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

function admin(method: string, path: string, body?: unknown) {
  return fetch(`${stack.api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${STACK_ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function ask(client: QueryClient) {
  const submitted = await client.submit(
    `Rollout question ${++asked}: what does my list say about item ${asked}?`,
  );
  expect(submitted.status).toBe(202);
  const view = await client.waitFinished(submitted.id!, 30_000);
  expect(view.status).toBe('succeeded');
  return view;
}

/** The exact-cache entries the worker wrote for a user. */
async function answerKeys(userId: string): Promise<number> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await stack.redis.redis.scan(
      cursor,
      'MATCH',
      `${stack.redis.prefix}:answer:{${userId}}:*`,
      'COUNT',
      1000,
    );
    for (const key of keys) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  return found.size;
}

/** The running worker's own view of a flag (its health app's /flags). */
async function workerRule(name: string) {
  const res = await fetch(`${stack.workers[0]!.url}/flags`);
  const body = (await res.json()) as { data: { name: string; source: string; rule: { deny: string[] } }[] };
  return body.data.find((f) => f.name === name)!;
}

describe('flags across processes', () => {
  it('an override reaches the running worker without a restart, and so does its reset', async () => {
    const user = await stack.createUser();
    const client = createQueryClient(() => stack.api.url, user.api_key);
    const worker = stack.workers[0]!;
    const pid = worker.child.pid;

    await ask(client);
    expect(await answerKeys(user.id)).toBe(1); // the worker cached its answer

    const patched = await admin('PATCH', '/v1/admin/flags/exact_cache', { deny: [user.id], reason: 'e2e' });
    expect(patched.status).toBe(200);
    const started = Date.now();
    await waitUntil(async () => (await workerRule('exact_cache')).rule.deny.includes(user.id), {
      what: 'the worker to see the override',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    console.log(
      `override seen by the running worker after ${Date.now() - started} ms (FLAGS_REFRESH_MS=300)`,
    );
    await ask(client);
    expect(await answerKeys(user.id)).toBe(1); // exact cache off for this user: nothing written

    await admin('DELETE', '/v1/admin/flags/exact_cache');
    await waitUntil(async () => (await workerRule('exact_cache')).source === 'default', {
      what: 'the worker to see the reset',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    await ask(client);
    expect(await answerKeys(user.id)).toBe(2);
    expect(worker.child.pid).toBe(pid);
    expect(worker.child.exitCode).toBeNull();
  });
});

describe('experiments across processes', () => {
  it('answers with the variant’s model, records the variant, and leaves users with the flag off on the default', async () => {
    const created = await admin('POST', '/v1/admin/experiments', {
      name: 'bigger model',
      variants: [
        { name: 'control', weight: 0 },
        { name: 'big', weight: 1, model: 'fake-big' },
      ],
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await admin('POST', `/v1/admin/experiments/${id}/start`)).status).toBe(200);

    const inside = await stack.createUser();
    const outside = await stack.createUser();
    await admin('PATCH', '/v1/admin/flags/experiments', { deny: [outside.id] });
    const insideView = await ask(createQueryClient(() => stack.api.url, inside.api_key));
    const outsideView = await ask(createQueryClient(() => stack.api.url, outside.api_key));
    expect(insideView.model).toBe('fake-big');
    expect(outsideView.model).toBe(LLM_MODEL);

    const results = (await (await admin('GET', `/v1/admin/experiments/${id}/results`)).json()) as {
      variants: { variant: string; queries: number; cost_per_query_usd: number | null }[];
    };
    expect(results.variants.find((v) => v.variant === 'big')).toMatchObject({ queries: 1 });
    expect(results.variants.find((v) => v.variant === 'big')!.cost_per_query_usd).toBeGreaterThan(0);
    expect(results.variants.find((v) => v.variant === 'control')).toMatchObject({ queries: 0 });
    await admin('DELETE', '/v1/admin/flags/experiments');
  });
});
