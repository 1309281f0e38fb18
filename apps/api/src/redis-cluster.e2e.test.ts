import { createKeys } from '@assistant/queue';
import {
  createQueryClient,
  deleteKeys,
  type QueryClient,
  type ServiceProcess,
  STACK_ADMIN_TOKEN,
  type Stack,
  startRedisCluster,
  startService,
  startStack,
  type TestRedisCluster,
  waitUntil,
} from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 14: the service unchanged on a real Redis Cluster. Three masters on loopback ports (no
// replicas), a real API and a real worker process pointed at it by REDIS_URL=redis+cluster://,
// answering with the offline extractive provider (it quotes the notes). The whole flow runs on
// it: notes and their indexing, questions by long poll and by SSE, the answer cache and its
// purges, a flag in partial rollout (canary counters), a rate limit, a key revocation reaching a
// second API process by pub/sub, a clean shutdown; no process may log a Redis error (CROSSSLOT
// above all), and the keys must really spread over the masters.
let cluster: TestRedisCluster;
let stack: Stack;
let secondApi: ServiceProcess; // for the key revocation, which reaches it only by pub/sub
type User = { id: string; api_key: string };
let alice: User;
let client: QueryClient;

// What Redis and ioredis say when keys of several slots meet in one command, script or pipeline,
// or when the cluster client cannot reach a node.
const REDIS_ERRORS =
  /CROSSSLOT|should belong to the same slot|slots allocation group|ReplyError|redis connection error|Cluster isn't ready|ClusterAllFailedError|MOVED \d|TRYAGAIN/;

const GARDEN_JOURNAL = Array.from(
  { length: 60 },
  (_, day) =>
    `Day ${day + 1}: watered the ${['tomatoes', 'beans', 'roses', 'basil', 'squash'][day % 5]} bed and noted ${
      day * 3 + 7
    } new leaves on row ${(day % 7) + 1}.`,
).join(' ');

function call(key: string, method: string, path: string, body?: unknown) {
  return fetch(`${stack.api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const admin = (method: string, path: string, body?: unknown) => call(STACK_ADMIN_TOKEN, method, path, body);

async function addNotes(user: User, notes: { title: string; body: string }[]): Promise<string[]> {
  const res = await call(user.api_key, 'POST', '/v1/notes/batch', { notes });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { data: { id: string }[] }).data.map((n) => n.id);
}

function waitIndexed(user: User, id: string) {
  return waitUntil(
    async () => {
      const note = (await (await call(user.api_key, 'GET', `/v1/notes/${id}`)).json()) as {
        index_status: string;
      };
      if (note.index_status === 'failed') throw new Error(`indexing of ${id} failed`);
      return note.index_status === 'indexed';
    },
    { what: `note ${id} indexed`, timeoutMs: 60_000 },
  );
}

/** Every key of the stack's prefix on the cluster, from every master. */
async function clusterKeys(): Promise<string[]> {
  const found: string[] = [];
  for (const node of cluster.client.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${stack.env.REDIS_PREFIX}:*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found;
}

function processes(): ServiceProcess[] {
  return [stack.api, secondApi, ...stack.workers];
}

beforeAll(async () => {
  const started = Date.now();
  cluster = await startRedisCluster(3);
  console.log(`3-master cluster ready in ${Date.now() - started} ms on ports ${cluster.ports.join(', ')}`);
  stack = await startStack('redis-cluster', {
    REDIS_URL: cluster.url,
    LLM_PROVIDER: 'extractive',
    SSE_HEARTBEAT_MS: '500',
    FLAGS_REFRESH_MS: '300',
    // The canary guard reads a rollout's counters (a pipeline over its minutes) every 200 ms.
    CANARY_INTERVAL_MS: '200',
    // Key lookups stay cached: a revoked key refused by the other API process within the poll
    // below can only be the revocation message.
    API_KEY_CACHE_TTL_MS: '60000',
  });
  secondApi = await startService('api', { ...stack.env, PORT: '0', MIGRATE_ON_START: 'false' });
  alice = await stack.createUser('internal');
  client = createQueryClient(() => stack.api.url, alice.api_key);
  const ids = await addNotes(alice, [
    {
      title: 'Wifi',
      body: 'The home wifi password is maple-sunrise-42. The router sits in the hallway cupboard.',
    },
    { title: 'Dentist', body: 'Dr. Okafor moved my cleaning appointment to Thursday the 14th at 9:30.' },
    { title: 'Passport', body: 'My passport is valid until March 2029. Renewal takes about six weeks.' },
    // Long enough for several chunks: their embeddings are looked up and stored in one batch,
    // whose keys lie on many slots.
    { title: 'Garden journal', body: GARDEN_JOURNAL },
  ]);
  await Promise.all(ids.map((id) => waitIndexed(alice, id)));
}, 120_000);

afterAll(async () => {
  if (stack && cluster) {
    // The test helper's cleanup on a cluster: SCAN every master, delete key by key.
    const removed = await deleteKeys(cluster.client, `${stack.env.REDIS_PREFIX}:*`).catch(() => -1);
    console.log(`removed ${removed} keys from the cluster`);
  }
  await secondApi?.stop();
  await stack?.stop();
  await cluster?.stop();
});

describe('the whole flow on a 3-master Redis Cluster', () => {
  it('answers a question read by long poll, quoting the indexed notes', async () => {
    const submitted = await client.submit('What is my wifi password?');
    expect(submitted.status).toBe(202);
    const view = await client.waitFinished(submitted.id!, 30_000);
    expect(view).toMatchObject({ status: 'succeeded', cached: false });
    expect(view.answer).toContain('maple-sunrise-42');
  });

  it('streams a question over SSE to done', async () => {
    const submitted = await client.submit('When is my dentist appointment?');
    expect(submitted.status).toBe(202);
    const events = await client.readEvents(submitted.id!, {
      until: (event) => event.type === 'done' || event.type === 'error',
    });
    const types = events.map((e) => e.type);
    expect(types).toContain('started');
    expect(types.at(-1)).toBe('done');
    const done = events.at(-1)!.payload as { result?: { answer?: string } };
    expect(done.result?.answer).toContain('Thursday');
  });

  it('serves a repeated question from the answer cache, and asks again after each purge', async () => {
    const question = 'What is my wifi password?';
    const hit = await client.submit(question);
    expect(hit.status).toBe(200);
    expect(hit.body).toMatchObject({ status: 'succeeded', cached: true });

    for (const scope of [
      { scope: 'user', user_id: alice.id },
      { scope: 'tier', tier: 'internal' },
      { scope: 'all' },
    ]) {
      const purged = await admin('POST', '/v1/admin/cache/purge', scope);
      expect(purged.status, await purged.clone().text()).toBe(200);
      const after = await client.submit(question);
      expect(after.status).toBe(202); // the purge made the cached answer unreachable
      expect((await client.waitFinished(after.id!, 30_000)).status).toBe('succeeded');
      expect((await client.submit(question)).status).toBe(200); // and the new answer is cached
    }
  });

  it('counts a flag in partial rollout (canary counters) and answers on both sides of it', async () => {
    const patched = await admin('PATCH', '/v1/admin/flags/exact_cache', {
      percentage: 50,
      reason: 'cluster e2e',
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    const worker = stack.workers[0]!;
    await waitUntil(
      async () => {
        const body = (await (await fetch(`${worker.url}/flags`)).json()) as {
          data: { name: string; rule: { percentage: number } }[];
        };
        return body.data.find((f) => f.name === 'exact_cache')?.rule.percentage === 50;
      },
      { what: 'the worker to see the rollout', timeoutMs: 10_000, intervalMs: 50 },
    );
    const submitted = await client.submit('How long does a passport renewal take?');
    expect(submitted.status).toBe(202);
    expect((await client.waitFinished(submitted.id!, 30_000)).status).toBe('succeeded');
    const canaryKeys = await waitUntil(
      async () => {
        const keys = (await clusterKeys()).filter((k) => k.includes(':{canary}:exact_cache:'));
        return keys.length > 0 && keys;
      },
      { what: 'canary counters on the cluster', timeoutMs: 10_000 },
    );
    expect(canaryKeys.length).toBeGreaterThan(0);
    const reset = await admin('DELETE', '/v1/admin/flags/exact_cache');
    expect(reset.status).toBe(200);
  });

  it('refuses with 429 once a user’s minute window is full', async () => {
    const limited = await stack.createUser('free');
    await stack.setLimits(limited.id, { perMinute: 1 });
    const limitedClient = createQueryClient(() => stack.api.url, limited.api_key);
    const first = await limitedClient.submit('Anything in my notes about the garden?');
    expect(first.status).toBe(202);
    const second = await limitedClient.submit('Anything in my notes about the kitchen?');
    expect(second.status).toBe(429);
    expect(second.body).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limitedClient.waitFinished(first.id!, 30_000)).status).toBe('succeeded');
  });

  it('revokes an API key on every API process (pub/sub over the cluster)', async () => {
    const user = await stack.createUser('free');
    const status = async (api: ServiceProcess) => {
      const res = await fetch(`${api.url}/v1/notes`, {
        headers: { authorization: `Bearer ${user.api_key}` },
      });
      await res.body?.cancel();
      return res.status;
    };
    expect(await status(stack.api)).toBe(200);
    expect(await status(secondApi)).toBe(200); // cached there for a minute
    const listed = (await (await admin('GET', `/v1/admin/users/${user.id}/keys`)).json()) as {
      data: { id: string }[];
    };
    const revoked = await admin('DELETE', `/v1/admin/keys/${listed.data[0]!.id}`);
    expect(revoked.status).toBe(200);
    expect(await status(stack.api)).toBe(401);
    await expect.poll(() => status(secondApi), { timeout: 1_000, interval: 25 }).toBe(401);
  });

  it('reports ready on the cluster, with no Redis error (CROSSSLOT or other) logged by any process', async () => {
    for (const p of processes()) {
      const res = await fetch(`${p.url}/readyz`);
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const lines = processes().flatMap((p) => p.output().split('\n'));
    expect(lines.filter((line) => REDIS_ERRORS.test(line))).toEqual([]);
    // Nor any error at all (a request that failed is logged at level 50 whatever the cause).
    expect(lines.filter((line) => line.includes('"level":50'))).toEqual([]);
  });

  it('shuts an API and a worker down cleanly on SIGTERM (BullMQ and every connection closed)', async () => {
    const extraWorker = await stack.addWorker();
    expect(await extraWorker.stop('SIGTERM')).toBe(0);
    expect(await secondApi.stop('SIGTERM')).toBe(0);
    expect(extraWorker.output()).not.toMatch(REDIS_ERRORS);
  });

  it('spreads the keys over the masters, each queue and each user on a slot of its own', async () => {
    const perNode = await cluster.keysPerNode();
    console.log(`keys per master (DBSIZE): ${perNode.join(', ')}`);
    expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);

    const keys = createKeys(stack.env.REDIS_PREFIX!);
    const all = await clusterKeys();
    // BullMQ's keys all carry their queue's tag, the answer queue's and the index queue's.
    const bull = all.filter((k) => k.startsWith(`${stack.env.REDIS_PREFIX}:bull:`));
    expect(bull.length).toBeGreaterThan(0);
    for (const key of bull) {
      expect(
        key.startsWith(`${keys.bullPrefix('answer-query')}:`) ||
          key.startsWith(`${keys.bullPrefix('index-notes')}:`),
      ).toBe(true);
    }
    expect(all.some((k) => k.startsWith(`${keys.prefix}:answer:{${alice.id}}:`))).toBe(true);
  });
});
