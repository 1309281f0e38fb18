import { createHash } from 'node:crypto';
import { assignVariant } from '@assistant/flags';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp } from './test-app.ts';

// Flags, feedback and experiments over the real app, Redis and Postgres (no worker: a finished
// query is made by updating its row, and results are checked against rows written here).
let t: Awaited<ReturnType<typeof createTestApp>>;
let sql: postgres.Sql;

beforeAll(async () => {
  t = await createTestApp('rollout', { env: { FLAGS_REFRESH_MS: '200', EXPERIMENTS_REFRESH_MS: '200' } });
  sql = postgres(t.database.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await t?.close();
});

function admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return t.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
function asUser(key: string, method: string, path: string, body?: unknown) {
  return t.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
async function codeOf(res: Response): Promise<[number, string]> {
  return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
}
async function submit(key: string, query: string): Promise<string> {
  const res = await asUser(key, 'POST', '/v1/queries', { query });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

const synthetic = (n: number, salt: string) =>
  Array.from({ length: n }, (_, i) => {
    const h = createHash('sha256').update(`${salt}-${i}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  });

describe('/v1/admin/flags', () => {
  it('lists every flag with its config default', async () => {
    const res = await admin('GET', '/v1/admin/flags');
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: { name: string; source: string; rule: { enabled: boolean } }[];
    };
    expect(data.map((f) => f.name)).toEqual([
      'exact_cache',
      'semantic_cache',
      'rate_limits',
      'budgets',
      'breakers',
      'tracing',
      'classification_routing',
      'quality_scoring',
      'escalation',
      'experiments',
    ]);
    expect(data.every((f) => f.source === 'default')).toBe(true);
    expect(data.find((f) => f.name === 'escalation')?.rule.enabled).toBe(false);
  });

  it('refuses bad input with stable codes', async () => {
    expect(await codeOf(await admin('PATCH', '/v1/admin/flags/no_such_flag', { percentage: 5 }))).toEqual([
      404,
      'unknown_flag',
    ]);
    expect(await codeOf(await admin('GET', '/v1/admin/flags/no_such_flag'))).toEqual([404, 'unknown_flag']);
    for (const percentage of [101, -1, '5']) {
      expect(await codeOf(await admin('PATCH', '/v1/admin/flags/semantic_cache', { percentage }))).toEqual([
        400,
        'invalid_request',
      ]);
    }
    expect(
      await codeOf(await admin('PATCH', '/v1/admin/flags/semantic_cache', { allow: ['not-a-uuid'] })),
    ).toEqual([400, 'invalid_request']);
    expect(await codeOf(await admin('PATCH', '/v1/admin/flags/semantic_cache', { colour: 'red' }))).toEqual([
      400,
      'invalid_request',
    ]);
    expect(await codeOf(await admin('GET', '/v1/admin/flags/changes?flag=nope'))).toEqual([
      404,
      'unknown_flag',
    ]);
    const anonymous = await t.app.request('/v1/admin/flags');
    expect(anonymous.status).toBe(401);
  });

  it('changes a flag, records who, when, before and after, and resets it', async () => {
    const patched = await admin(
      'PATCH',
      '/v1/admin/flags/semantic_cache',
      { percentage: 5, reason: 'canary' },
      { 'x-actor': 'alice@example.com' },
    );
    expect(patched.status).toBe(200);
    expect(await patched.json()).toEqual({
      name: 'semantic_cache',
      source: 'override',
      rule: { enabled: true, percentage: 5, allow: [], deny: [] },
    });
    await admin('PATCH', '/v1/admin/flags/semantic_cache', { percentage: 25 }, { 'x-actor': 'bob' });
    const reset = (await (await admin('DELETE', '/v1/admin/flags/semantic_cache')).json()) as {
      source: string;
    };
    expect(reset.source).toBe('default');

    const res = await admin('GET', '/v1/admin/flags/changes?flag=semantic_cache');
    const { data } = (await res.json()) as {
      data: {
        actor: string;
        reason: string | null;
        at: string;
        before: { percentage: number } | null;
        after: { percentage: number } | null;
      }[];
    };
    expect(data.map((c) => [c.actor, c.before?.percentage ?? null, c.after?.percentage ?? null])).toEqual([
      ['admin', 25, null],
      ['bob', 5, 25],
      ['alice@example.com', null, 5],
    ]);
    expect(data[2]!.reason).toBe('canary');
    expect(Date.now() - Date.parse(data[0]!.at)).toBeLessThan(60_000);
  });

  it('turns rate limits off for a denied user only', async () => {
    const limited = await t.createUser();
    const other = await t.createUser();
    for (const user of [limited, other]) {
      const res = await admin('PATCH', `/v1/admin/users/${user.id}`, { limits: { perMinute: 1 } });
      expect(res.status).toBe(200);
    }
    await submit(limited.api_key, 'first question');
    await submit(other.api_key, 'first question');
    expect(await codeOf(await asUser(limited.api_key, 'POST', '/v1/queries', { query: 'second' }))).toEqual([
      429,
      'rate_limited',
    ]);
    await admin('PATCH', '/v1/admin/flags/rate_limits', { deny: [limited.id] });
    await submit(limited.api_key, 'second question');
    await submit(limited.api_key, 'third question');
    expect((await asUser(other.api_key, 'POST', '/v1/queries', { query: 'second' })).status).toBe(429);
    await admin('DELETE', '/v1/admin/flags/rate_limits');
    expect((await asUser(limited.api_key, 'POST', '/v1/queries', { query: 'fourth' })).status).toBe(429);
  });
});

describe('feedback', () => {
  it('takes the owner’s rating of a finished query, one per query, editable, and lists it for admins', async () => {
    const owner = await t.createUser();
    const stranger = await t.createUser();
    const id = await submit(owner.api_key, 'how was my answer?');
    const path = `/v1/queries/${id}/feedback`;

    expect(await codeOf(await asUser(owner.api_key, 'POST', path, { rating: 'up' }))).toEqual([
      409,
      'query_not_finished',
    ]);
    await sql`update queries set status = 'succeeded', finished_at = now() where id = ${id}`;
    expect(await codeOf(await asUser(stranger.api_key, 'POST', path, { rating: 'up' }))).toEqual([
      404,
      'not_found',
    ]);
    expect(
      await codeOf(await asUser(owner.api_key, 'POST', '/v1/queries/q_nope/feedback', { rating: 'up' })),
    ).toEqual([404, 'not_found']);
    expect(await codeOf(await asUser(owner.api_key, 'POST', path, { rating: 'meh' }))).toEqual([
      400,
      'invalid_request',
    ]);
    expect(await codeOf(await asUser(owner.api_key, 'POST', path, { rating: 'up', extra: 1 }))).toEqual([
      400,
      'invalid_request',
    ]);

    const first = await asUser(owner.api_key, 'POST', path, { rating: 'up' });
    expect(first.status).toBe(201);
    const edited = await asUser(owner.api_key, 'POST', path, { rating: 'down', comment: 'wrong date' });
    expect(edited.status).toBe(200);
    expect(await edited.json()).toMatchObject({
      query_id: id,
      user_id: owner.id,
      rating: 'down',
      comment: 'wrong date',
    });
    expect((await sql`select count(*)::int as n from query_feedback where query_id = ${id}`)[0]!.n).toBe(1);

    const listed = (await (await admin('GET', '/v1/admin/feedback?rating=down')).json()) as {
      data: { query_id: string; rating: string }[];
    };
    expect(listed.data.find((f) => f.query_id === id)).toMatchObject({ rating: 'down' });
    expect(await codeOf(await admin('GET', '/v1/admin/feedback?rating=sideways'))).toEqual([
      400,
      'invalid_request',
    ]);

    const metrics = await (await t.app.request('/metrics')).text();
    expect(metrics).toMatch(/assistant_feedback_total\{rating="down",service="api"\} 1/);
    expect(metrics).toMatch(/assistant_feedback_total\{rating="up",service="api"\} 1/);
  });
});

describe('/v1/admin/experiments', () => {
  let experimentId: string;

  it('refuses weights that do not sum to a positive number, unknown prompts and single variants', async () => {
    const zero = {
      name: 'x',
      variants: [
        { name: 'a', weight: 0 },
        { name: 'b', weight: 0 },
      ],
    };
    expect(await codeOf(await admin('POST', '/v1/admin/experiments', zero))).toEqual([
      400,
      'invalid_weights',
    ]);
    const negative = {
      name: 'x',
      variants: [
        { name: 'a', weight: -1 },
        { name: 'b', weight: 2 },
      ],
    };
    expect(await codeOf(await admin('POST', '/v1/admin/experiments', negative))).toEqual([
      400,
      'invalid_request',
    ]);
    const prompt = {
      name: 'x',
      variants: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1, prompt: 'answer@9' },
      ],
    };
    expect(await codeOf(await admin('POST', '/v1/admin/experiments', prompt))).toEqual([
      400,
      'unknown_prompt',
    ]);
    const one = { name: 'x', variants: [{ name: 'a', weight: 1 }] };
    expect(await codeOf(await admin('POST', '/v1/admin/experiments', one))).toEqual([400, 'invalid_request']);
    expect(await codeOf(await admin('GET', '/v1/admin/experiments/exp_nope'))).toEqual([404, 'not_found']);
  });

  it('creates and starts an experiment; a second cannot run beside it', async () => {
    const created = await admin('POST', '/v1/admin/experiments', {
      name: 'cheaper model',
      variants: [
        { name: 'control', weight: 1, prompt: 'answer@1' },
        { name: 'small', weight: 3, model: 'small-model' },
      ],
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: string; status: string; control: string };
    expect(body).toMatchObject({ status: 'draft', control: 'control' });
    experimentId = body.id;
    expect((await admin('POST', `/v1/admin/experiments/${experimentId}/start`)).status).toBe(200);
    expect(await codeOf(await admin('POST', `/v1/admin/experiments/${experimentId}/start`))).toEqual([
      409,
      'experiment_state',
    ]);
    const other = (await (
      await admin('POST', '/v1/admin/experiments', {
        name: 'other',
        variants: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 1 },
        ],
      })
    ).json()) as { id: string };
    expect(await codeOf(await admin('POST', `/v1/admin/experiments/${other.id}/start`))).toEqual([
      409,
      'experiment_conflict',
    ]);
  });

  it('assigns sticky and in proportion to the weights (10,000 users: 25% / 75% ± 1.5 points)', async () => {
    const users = synthetic(10_000, 'experiment-user');
    const first = users.map((u) => t.assigner.assign(u)?.variant);
    await t.assigner.refresh();
    const again = users.map((u) => t.assigner.assign(u)?.variant);
    expect(again).toEqual(first);
    const small = first.filter((v) => v === 'small').length / users.length;
    console.log(`variant 'small' (weight 3 of 4) got ${(small * 100).toFixed(2)}% of ${users.length} users`);
    expect(small).toBeGreaterThan(0.735);
    expect(small).toBeLessThan(0.765);
    expect(first.every((v) => v === 'small' || v === 'control')).toBe(true);
    // The pure function agrees with the route's assigner.
    expect(
      assignVariant(
        experimentId,
        [
          { name: 'control', weight: 1 },
          { name: 'small', weight: 3 },
        ],
        users[0]!,
      )?.name,
    ).toBe(first[0]);
  });

  it('records the variant on the query and sends it to the worker with the job', async () => {
    const user = await t.createUser();
    const expected = t.assigner.assign(user.id)!;
    const id = await submit(user.api_key, 'which variant am I?');
    const [row] = await sql`select experiment_id, experiment_variant from queries where id = ${id}`;
    expect(row).toEqual({ experiment_id: experimentId, experiment_variant: expected.variant });
    const job = await t.queue.queue.getJob(id);
    expect(job?.data.experiment).toEqual(expected);
    if (expected.variant === 'small') expect(expected.model).toBe('small-model');
  });

  it('reports per-variant results that match the stored queries, feedback and ledger', async () => {
    const users = await Promise.all([t.createUser(), t.createUser()]);
    // Synthetic finished queries of each variant, written as the pipeline would leave them.
    type Seed = {
      variant: string;
      status: string;
      latencyMs: number;
      costMicros: number | null;
      rating: 'up' | 'down' | null;
      quality: number | null;
    };
    const seeds: Seed[] = [];
    for (let i = 0; i < 40; i++) {
      seeds.push({
        variant: 'control',
        status: i % 10 === 9 ? 'failed' : 'succeeded',
        latencyMs: 800 + i * 37,
        costMicros: i % 10 === 9 ? null : 100 + i,
        rating: i % 3 === 0 ? 'down' : i % 3 === 1 ? 'up' : null,
        quality: i % 4 === 0 ? null : 0.5 + (i % 5) / 10,
      });
    }
    for (let i = 0; i < 60; i++) {
      seeds.push({
        variant: 'small',
        status: 'succeeded',
        latencyMs: 500 + i * 11,
        costMicros: 30 + (i % 7),
        rating: i % 4 === 0 ? 'down' : i % 2 === 1 ? 'up' : null,
        quality: null,
      });
    }
    await sql`delete from queries where experiment_id = ${experimentId}`;
    for (const [i, seed] of seeds.entries()) {
      const id = `q_${createHash('md5').update(`seed-${i}`).digest('hex')}`;
      const userId = users[i % 2]!.id;
      await sql`insert into queries (id, user_id, status, query, request_id, experiment_id, experiment_variant,
          quality_score, created_at, finished_at)
        values (${id}, ${userId}, ${seed.status}, 'seeded', 'r', ${experimentId}, ${seed.variant}, ${seed.quality},
          now() - interval '1 second' * 0, now() + interval '1 millisecond' * ${seed.latencyMs})`;
      if (seed.costMicros !== null) {
        await sql`insert into cost_ledger (query_id, user_id, day, provider, model, prompt_tokens, completion_tokens,
            input_nanos_per_token, output_nanos_per_token, cost_micros, cached)
          values (${id}, ${userId}, current_date, 'endpoint', 'm', 10, 10, 200, 600, ${seed.costMicros}, false)`;
      }
      if (seed.rating) {
        await sql`insert into query_feedback (query_id, user_id, rating) values (${id}, ${userId}, ${seed.rating})`;
      }
    }

    const res = await admin('GET', `/v1/admin/experiments/${experimentId}/results`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      variants: {
        variant: string;
        queries: number;
        mean_quality_score: number | null;
        thumbs_up_rate: number | null;
        rated: number;
        thumbs_up: number;
        cost_per_query_usd: number | null;
        p95_latency_ms: number | null;
      }[];
      comparisons: {
        variant: string;
        difference: number;
        ci95: [number, number];
        p_value: number;
        significant: boolean;
        sample_size_needed: number | null;
      }[];
    };

    for (const name of ['control', 'small']) {
      const mine = seeds.filter((s) => s.variant === name);
      const rated = mine.filter((s) => s.rating);
      const ups = rated.filter((s) => s.rating === 'up').length;
      const scored = mine.filter((s) => s.quality !== null);
      const costed = mine.filter((s) => s.costMicros !== null);
      const latencies = mine.map((s) => s.latencyMs).sort((a, b) => a - b);
      const pos = 0.95 * (latencies.length - 1);
      const p95 =
        latencies[Math.floor(pos)]! +
        (latencies[Math.ceil(pos)]! - latencies[Math.floor(pos)]!) * (pos - Math.floor(pos));
      const got = body.variants.find((v) => v.variant === name)!;
      expect(got.queries).toBe(mine.length);
      expect(got.rated).toBe(rated.length);
      expect(got.thumbs_up).toBe(ups);
      expect(got.thumbs_up_rate).toBeCloseTo(ups / rated.length, 10);
      if (scored.length === 0) expect(got.mean_quality_score).toBeNull();
      else
        expect(got.mean_quality_score).toBeCloseTo(
          scored.reduce((s, x) => s + x.quality!, 0) / scored.length,
          5,
        );
      expect(got.cost_per_query_usd).toBeCloseTo(
        costed.reduce((s, x) => s + x.costMicros!, 0) / costed.length / 1e6,
        12,
      );
      expect(got.p95_latency_ms).toBeCloseTo(p95, 0);
    }
    const control = body.variants[0]!;
    const small = body.variants[1]!;
    const [comparison] = body.comparisons;
    expect(comparison!.variant).toBe('small');
    expect(comparison!.difference).toBeCloseTo(small.thumbs_up_rate! - control.thumbs_up_rate!, 10);
    expect(comparison!.ci95[0]).toBeLessThan(comparison!.difference);
    expect(comparison!.ci95[1]).toBeGreaterThan(comparison!.difference);
    expect(comparison!.p_value).toBeGreaterThan(0);
    if (!comparison!.significant) expect(comparison!.sample_size_needed).toBeGreaterThan(0);
  });

  it('stops, promotes a winner that then answers for everyone, and refuses an unknown variant', async () => {
    expect((await admin('POST', `/v1/admin/experiments/${experimentId}/stop`)).status).toBe(200);
    expect(await codeOf(await admin('POST', `/v1/admin/experiments/${experimentId}/stop`))).toEqual([
      409,
      'experiment_state',
    ]);
    expect(
      await codeOf(await admin('POST', `/v1/admin/experiments/${experimentId}/promote`, { variant: 'huge' })),
    ).toEqual([400, 'unknown_variant']);
    const promoted = await admin('POST', `/v1/admin/experiments/${experimentId}/promote`, {
      variant: 'small',
    });
    expect(promoted.status).toBe(200);
    expect(await promoted.json()).toMatchObject({ status: 'promoted', winner: 'small' });
    const users = synthetic(200, 'after-promotion');
    expect(users.every((u) => t.assigner.assign(u)?.model === 'small-model')).toBe(true);
  });
});
