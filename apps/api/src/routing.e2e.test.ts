import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { createQueryClient, type QueryClient, type Stack, startStack, waitUntil } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Routing across real processes: an API and a worker process configured alike (a cheap model for
// simple questions), the fake LLM behind them. `GET /v1/queries/:id` shows each question's route,
// and the API's exact-cache lookup finds what the worker stored under the same routed settings.
let stack: Stack;
let fake: RunningFakeLlm;
let client: QueryClient;

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 6, tokensPerSecond: 0 } });
  stack = await startStack('routing', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-big',
    LLM_SIMPLE_MODEL: 'fake-small',
    LLM_PRICES_JSON: JSON.stringify({ 'fake-small': { input_usd: 0.00000002, output_usd: 0.00000006 } }),
    RETRIEVAL_ANSWERABILITY: 'gate',
  });
  const user = await stack.createUser();
  client = createQueryClient(() => stack.api.url, user.api_key);
  const res = await fetch(`${stack.api.url}/v1/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      title: 'Garden',
      body: 'Water the tomatoes twice a week at dawn. Basil likes shade.',
    }),
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  await waitUntil(
    async () => {
      const note = await fetch(`${stack.api.url}/v1/notes/${id}`, {
        headers: { authorization: `Bearer ${user.api_key}` },
      });
      return ((await note.json()) as { index_status: string }).index_status === 'indexed' || undefined;
    },
    { what: 'note indexed', timeoutMs: 30_000, intervalMs: 100 },
  );
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
});

describe('routing end to end', () => {
  it('shows the route of each question, and serves a routed answer again from the exact cache', async () => {
    const simple = await client.submit('How often do I water the tomatoes?');
    expect(simple.status).toBe(202);
    const view = await client.waitFinished(simple.id!);
    expect(view).toMatchObject({
      status: 'succeeded',
      model: 'fake-small',
      route: { class: 'simple', model: 'fake-small' },
    });

    const complex = await client.submit('Compare what my notes say about the tomatoes and the basil.');
    const complexView = await client.waitFinished(complex.id!);
    expect(complexView).toMatchObject({ model: 'fake-big', route: { class: 'complex', model: 'fake-big' } });

    const before = fake.counters().requests;
    const again = await client.submit('How often do I water the tomatoes?');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ cached: true, route: { class: 'simple', model: 'fake-small' } });
    expect(fake.counters().requests).toBe(before);
  });

  it('shows no_context as a route with no model, and no LLM call', async () => {
    const before = fake.counters().requests;
    const outside = await client.submit('What is the boiling point of tungsten?');
    const view = await client.waitFinished(outside.id!);
    expect(view).toMatchObject({ outcome: 'no_context', route: { class: 'no_context', model: 'none' } });
    expect(fake.counters().requests).toBe(before);
  });
});
