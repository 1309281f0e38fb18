import type { Answer } from '@assistant/contracts';
import type { EmbeddingModel } from '@assistant/embeddings';
import { defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import type { Keys } from '@assistant/queue';
import { createKeys } from '@assistant/queue';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis, deleteKeys } from '@assistant/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CacheState } from './cache-epochs.ts';
import type { EvidenceRef } from './evidence.ts';
import { evidenceFingerprint } from './evidence.ts';
import { createSemanticCache } from './semantic-cache.ts';

const answer: Answer = {
  outcome: 'answered',
  answer: 'See your Home note.',
  sources: [{ note_id: 'n1', title: 'Home', text: '…', score: 0.8 }],
  model: 'm-8b',
  provider: 'fake',
  usage: { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105 },
  cost_usd: 0.000023,
  truncated: false,
};
const evidence: EvidenceRef[] = [{ noteId: 'n1', chunkId: 'c1', version: 1 }];
const evidenceKey = evidenceFingerprint(evidence);
const settings = { model: 'm-8b', promptVariant: 'v1' };
const state: CacheState = {
  userId: 'u1',
  tier: 'free',
  generation: 4,
  epochs: { global: 0, tier: 0, user: 0 },
};

let t: TestRedis;
let keys: Keys;
let model: EmbeddingModel;

beforeAll(async () => {
  t = await createTestRedis('semantic-cache');
  keys = createKeys(t.prefix);
  model = await loadEmbeddingModel(defaultModelDir(process.env), { intraOpNumThreads: 2 });
});
afterEach(async () => {
  await deleteKeys(t.redis, `${t.prefix}:*`);
});
afterAll(async () => {
  await model?.close();
  await t?.cleanup();
});

async function vectorOf(query: string): Promise<Float32Array> {
  const [vector] = await model.embedBatch([query]);
  return vector!;
}

function cosine(a: Float32Array, b: Float32Array): number {
  return a.reduce((sum, x, i) => sum + x * b[i]!, 0);
}

describe('createSemanticCache with the real embedding model', () => {
  const semantic = () => createSemanticCache(t.redis, keys);

  async function remember(query: string, text = `answer to: ${query}`) {
    const vector = await vectorOf(query);
    return semantic().store({
      state,
      settings,
      query,
      vector,
      evidenceKey,
      evidence,
      fallback: false,
      answer: { ...answer, answer: text },
    });
  }

  async function lookup(query: string, changes: Partial<{ state: CacheState; evidenceKey: string }> = {}) {
    return semantic().lookup({
      state,
      settings,
      query,
      vector: await vectorOf(query),
      evidenceKey,
      ...changes,
    });
  }

  it.each([
    ['what is my wifi password', "what's the wifi password?"],
    ['how do I reset my password', 'how can I reset my password'],
    ['where did I park the car', 'Where did I park my car?'],
    ['what is the name of my landlord', "what's my landlord's name"],
  ])('reuses the answer to %j for the paraphrase %j, marked semantic', async (stored, asked) => {
    await remember(stored);
    const hit = await lookup(asked);
    expect(hit).toMatchObject({
      answer: `answer to: ${stored}`,
      cache: 'semantic',
      matchedQuery: stored.toLowerCase(),
      evidence,
      sources: answer.sources,
    });
    expect(hit!.similarity).toBeGreaterThanOrEqual(0.95);
  });

  it.each([
    ['negation', 'is the meeting on monday', 'is the meeting not on monday'],
    ['negation by contraction', 'is the meeting on monday', "isn't the meeting on monday"],
    ['another entity', "when is Anna's birthday", "when is Maria's birthday"],
    ['another entity, lower case', "when is anna's birthday", "when is maria's birthday"],
    ['another number', 'what did I spend in 2023', 'what did I spend in 2024'],
    ['another month', 'what did I spend in march', 'what did I spend in april'],
    ['an antonym', 'what time does the gym open', 'what time does the gym close'],
  ])('does not reuse an answer across %s: %j vs %j', async (_kind, stored, asked) => {
    await remember(stored);
    expect(await lookup(asked)).toBeUndefined();
    expect(await lookup(stored)).toBeDefined();
  });

  it('misses a negation that cosine alone would accept', async () => {
    const [on, notOn] = await Promise.all([
      vectorOf('is the meeting on monday'),
      vectorOf('is the meeting not on monday'),
    ]);
    // Measured 0.963 on the raw text and 0.930 on the semantic text: the guard is what separates them.
    expect(cosine(on, notOn)).toBeGreaterThan(0.9);
    const lenient = createSemanticCache(t.redis, keys, { threshold: 0.9 });
    const write = { state, settings, evidenceKey, evidence, fallback: false, answer };
    await lenient.store({ ...write, query: 'is the meeting on monday', vector: on });
    expect(
      await lenient.lookup({
        state,
        settings,
        evidenceKey,
        query: 'is the meeting not on monday',
        vector: notOn,
      }),
    ).toBeUndefined();
  });

  it('misses when retrieval would return other chunks or versions', async () => {
    await remember('what is my wifi password');
    const edited = evidenceFingerprint([{ noteId: 'n1', chunkId: 'c1', version: 2 }]);
    expect(await lookup('what is my wifi password', { evidenceKey: edited })).toBeUndefined();
  });

  it('misses for another user, another generation and after a purge epoch', async () => {
    await remember('what is my wifi password');
    const q = 'what is my wifi password';
    expect(await lookup(q, { state: { ...state, userId: 'u2' } })).toBeUndefined();
    expect(await lookup(q, { state: { ...state, generation: 5 } })).toBeUndefined();
    expect(await lookup(q, { state: { ...state, epochs: { global: 1, tier: 0, user: 0 } } })).toBeUndefined();
    expect(await lookup(q, { state: { ...state, tier: 'premium' } })).toBeUndefined();
    expect(await lookup(q)).toBeDefined();
  });
});

describe('createSemanticCache storage', () => {
  function basis(i: number): Float32Array {
    const vector = new Float32Array(8);
    vector[i] = 1;
    return vector;
  }
  const write = { state, settings, evidenceKey, evidence, fallback: false, answer };

  it('keeps at most maxEntriesPerUser entries, evicting the oldest with its answer, and sets TTLs', async () => {
    let n = 0;
    const cache = createSemanticCache(
      t.redis,
      keys,
      { maxEntriesPerUser: 3, ttlSeconds: 600 },
      {
        newId: () => `entry${String(n++).padStart(11, '0')}`,
      },
    );
    for (let i = 0; i < 5; i++) {
      await cache.store({
        ...write,
        query: `question ${i}`,
        vector: basis(i),
        answer: { ...answer, answer: `a${i}` },
      });
    }
    const found = (i: number) =>
      cache
        .lookup({ state, settings, evidenceKey, query: `question ${i}`, vector: basis(i) })
        .then((hit) => hit?.answer);
    expect(await Promise.all([0, 1, 2, 3, 4].map(found))).toEqual([undefined, undefined, 'a2', 'a3', 'a4']);

    const index = `${t.prefix}:semantic:{u1}:4:`;
    const stored: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await t.redis.scan(cursor, 'MATCH', `${index}*`, 'COUNT', 100);
      cursor = next;
      stored.push(...batch);
    } while (cursor !== '0');
    expect(stored.map((key) => key.split(':').pop()).sort()).toEqual(['answers', 'index']);
    for (const key of stored) {
      const ttl = await t.redis.ttl(key);
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
      expect(await (key.endsWith('index') ? t.redis.llen(key) : t.redis.hlen(key))).toBe(3);
    }
  });

  it('returns the closest of several entries above the threshold', async () => {
    const cache = createSemanticCache(t.redis, keys, { threshold: 0.5 });
    const near = new Float32Array([1, 0.2, 0, 0, 0, 0, 0, 0]);
    const far = new Float32Array([1, 0.9, 0, 0, 0, 0, 0, 0]);
    await cache.store({
      ...write,
      query: 'near question',
      vector: near,
      answer: { ...answer, answer: 'near' },
    });
    await cache.store({ ...write, query: 'far question', vector: far, answer: { ...answer, answer: 'far' } });
    const hit = await cache.lookup({
      state,
      settings,
      evidenceKey,
      query: 'asked question',
      vector: basis(0),
    });
    expect(hit?.answer).toBe('near');
    expect(hit?.similarity).toBeCloseTo(1 / Math.sqrt(1.04), 5);
  });

  it('treats equal normalized texts as the same question, whatever their vectors', async () => {
    const cache = createSemanticCache(t.redis, keys);
    await cache.store({ ...write, query: 'What is my wi-fi password?', vector: basis(0) });
    const hit = await cache.lookup({ ...write, query: "what's the wi-fi password", vector: basis(1) });
    expect(hit?.similarity).toBe(1);
    expect(await cache.lookup({ ...write, query: 'the wi-fi password', vector: basis(1) })).toBeUndefined();
  });

  it('refuses truncated, fallback and empty-vector answers with a reason and counts nothing', async () => {
    const events: string[] = [];
    const cache = createSemanticCache(
      t.redis,
      keys,
      {},
      { onCacheEvent: (tier, outcome) => events.push(`${tier}:${outcome}`) },
    );
    const q = { ...write, query: 'question', vector: basis(0) };
    expect(await cache.store({ ...q, answer: { ...answer, truncated: true } })).toEqual({
      stored: false,
      reason: 'truncated',
    });
    expect(await cache.store({ ...q, fallback: true })).toEqual({ stored: false, reason: 'fallback' });
    expect(await cache.store({ ...q, vector: new Float32Array(0) })).toEqual({
      stored: false,
      reason: 'invalid_vector',
    });
    expect(await cache.lookup(q)).toBeUndefined();
    expect(events).toEqual(['semantic:miss']);
    expect(await cache.store(q)).toEqual({ stored: true });
    expect(await cache.lookup(q)).toBeDefined();
    expect(events).toEqual(['semantic:miss', 'semantic:store', 'semantic:hit']);
  });
});
