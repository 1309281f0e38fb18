import { loadConfig } from '@assistant/config';
import type { StoredChunk } from '@assistant/db';
import { vectorToBytes } from '@assistant/embeddings';
import { createNotesGenerations } from '@assistant/queue';
import { testServers } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerTestEnv, type WorkerTestEnv } from '../test-worker.ts';
import { createFusedRetriever, FUSED_DEFAULTS } from './fused-retriever.ts';
import { createHybridRetriever } from './hybrid-retriever.ts';
import { createUserVectorIndex } from './user-vector-index.ts';

// Retrieval tuned as production runs it (the config's defaults).
const retrieval = loadConfig({
  REDIS_URL: testServers.redisUrl,
  DATABASE_URL: testServers.databaseUrl,
  ADMIN_TOKEN: 'test-admin-token-0123456789',
}).retrieval;

const NOTES = [
  {
    title: 'Sourdough starter',
    body: 'Feed the sourdough starter every morning with equal parts rye flour and water. It doubles in about six hours at room temperature; keep it in the fridge when away.',
  },
  {
    title: 'Bicycle maintenance',
    body: 'Lubricate the bike chain every 300 km. Road tyres are inflated to 90 psi, the gravel bike runs at 45 psi. Replace brake pads when the groove is gone.',
  },
  {
    title: 'Tax calendar',
    body: 'The quarterly VAT return is filed before the 20th of the month after the quarter ends. Keep receipts for seven years for the tax office.',
  },
  {
    title: 'Houseplants',
    body: 'Water the monstera once a week and mist the fern daily. The cactus on the windowsill needs water only once a month in winter.',
  },
];

let env: WorkerTestEnv;
let alice: string;
let bob: string;
/** Note id by title, for Alice's notes. */
const aliceNotes = new Map<string, string>();
let loadCalls: string[] = [];

beforeAll(async () => {
  env = await createWorkerTestEnv('hybrid-retriever', { model: true });
  alice = await env.createUser();
  bob = await env.createUser();
  for (const note of NOTES) aliceNotes.set(note.title, await indexNote(alice, note));
  // Bob has one note of his own, close in topic to one of Alice's.
  await indexNote(bob, {
    title: 'Secret bread recipe',
    body: 'Bob feeds his sourdough starter with whole wheat flour twice a day.',
  });
});
afterAll(async () => {
  await env?.close();
});

/** Stores a note and one chunk of it through the real repos, embedded as indexing embeds it. */
async function indexNote(userId: string, note: { title: string; body: string }): Promise<string> {
  const stored = await env.createNote(userId, note);
  const [vector] = await env.model().embedBatch([`${note.title}\n${note.body}`]);
  const result = await env.chunks.replaceChunks(stored.id, stored.version, [
    {
      position: 0,
      text: note.body,
      startChar: 0,
      endChar: note.body.length,
      tokenCount: env.model().countTokens(note.body),
      embedding: vectorToBytes(vector!),
    },
  ]);
  expect(result).toBeDefined();
  return stored.id;
}

/** The real index and retriever, wired as compose.ts wires them, with loads counted. */
function buildRetriever(ranking: 'fused' | 'hybrid' = 'fused') {
  const generations = createNotesGenerations(env.redis, env.keys, (userId) => env.notes.generation(userId));
  const index = createUserVectorIndex(
    {
      loadChunks: (userId: string): Promise<StoredChunk[]> => {
        loadCalls.push(userId);
        return env.chunks.loadUserChunks(userId);
      },
      currentGeneration: (userId) => generations.current(userId),
    },
    { maxBytes: retrieval.cacheBytes },
  );
  const retriever =
    ranking === 'fused'
      ? createFusedRetriever({ index }, { ...FUSED_DEFAULTS, minScore: retrieval.minScore })
      : createHybridRetriever(
          { index, lexicalSearch: (userId, words, limit) => env.chunks.lexicalSearch(userId, words, limit) },
          {
            ranking,
            minScore: retrieval.minScore,
            lexicalMinScore: retrieval.lexicalMinScore,
            lexicalWeight: retrieval.lexicalWeight,
            rrfK: retrieval.rrfK,
            candidates: 30,
          },
        );
  return { index, retriever, generations };
}

async function ask(retriever: ReturnType<typeof buildRetriever>['retriever'], userId: string, query: string) {
  const [vector] = await env.model().embedBatch([query]);
  return retriever.retrieve({ userId, query, vector: vector!, limit: retrieval.topK });
}

describe.each(['fused', 'hybrid'] as const)('the %s ranking over real chunks and embeddings', (ranking) => {
  it.each([
    ['How often should I feed my sourdough starter?', 'Sourdough starter'],
    ['What pressure do my road bike tyres need?', 'Bicycle maintenance'],
    ['When is the VAT return due?', 'Tax calendar'],
    ['How often do I water the monstera?', 'Houseplants'],
  ])('ranks the right note first for %j', async (query, title) => {
    const { retriever } = buildRetriever(ranking);
    const found = await ask(retriever, alice, query);
    expect(found[0]?.noteId).toBe(aliceNotes.get(title));
    expect(found[0]?.title).toBe(title);
    if (ranking === 'hybrid') expect(found[0]?.score).toBeGreaterThanOrEqual(retrieval.lexicalMinScore);
  });

  it('returns nothing for a question none of the notes is about (the relevance floor)', async () => {
    const { retriever } = buildRetriever(ranking);
    expect(await ask(retriever, alice, 'Who won the football world cup in 1966?')).toEqual([]);
  });

  it("never returns another user's chunks", async () => {
    const { retriever } = buildRetriever(ranking);
    const aliceIds = new Set(aliceNotes.values());
    const forAlice = await ask(retriever, alice, 'How does Bob feed his sourdough starter with whole wheat?');
    expect(forAlice.length).toBeGreaterThan(0);
    for (const chunk of forAlice) expect(aliceIds.has(chunk.noteId)).toBe(true);

    const forBob = await ask(retriever, bob, 'When is the VAT return due?');
    for (const chunk of forBob) expect(aliceIds.has(chunk.noteId)).toBe(false);
  });
});

describe('the fused ranking', () => {
  it.each([
    ['Who told me to use rye?', 'Sourdough starter'],
    ['monstra wattering', 'Houseplants'],
    ['psi', 'Bicycle maintenance'],
  ])('finds the note by its rare word, typo or not, for %j', async (query, title) => {
    const found = await ask(buildRetriever('fused').retriever, alice, query);
    expect(found[0]?.title).toBe(title);
  });

  it('says why it refuses: the features of the best chunk', async () => {
    const retriever = createFusedRetriever(
      { index: buildRetriever('fused').index },
      { ...FUSED_DEFAULTS, minScore: retrieval.minScore },
    );
    const [vector] = await env.model().embedBatch(['What is the boiling point of tungsten?']);
    const ranked = await retriever.rank({
      userId: alice,
      query: 'What is the boiling point of tungsten?',
      vector: vector!,
    });
    expect(ranked.answerable).toBe(false);
    expect(ranked.features?.coverage).toBe(0);
    expect(ranked.candidates).toHaveLength(NOTES.length);
  });
});

describe('createUserVectorIndex', () => {
  it('loads each user once per generation, separately per user', async () => {
    loadCalls = [];
    const { index } = buildRetriever();
    const [vector] = await env.model().embedBatch(['sourdough']);
    const [forAlice, again, forBob] = [
      await index.search(alice, vector!, 100),
      await index.search(alice, vector!, 100),
      await index.search(bob, vector!, 100),
    ];
    expect(forAlice).toHaveLength(NOTES.length);
    expect(again.map((hit) => hit.chunk.id)).toEqual(forAlice.map((hit) => hit.chunk.id));
    expect(forBob).toHaveLength(1);
    expect(loadCalls).toEqual([alice, bob]);
    await index.chunksById(alice);
    expect(loadCalls).toEqual([alice, bob]);
  });

  it('shares one load between concurrent searches of the same user', async () => {
    loadCalls = [];
    const { index } = buildRetriever();
    const [vector] = await env.model().embedBatch(['tax']);
    await Promise.all([index.search(alice, vector!, 3), index.search(alice, vector!, 3)]);
    expect(loadCalls).toEqual([alice]);
  });

  it('rebuilds when the generation moves, and then sees the new note', async () => {
    loadCalls = [];
    const { retriever, generations } = buildRetriever();
    expect(await ask(retriever, alice, 'What is the wifi password of the cabin?')).toEqual([]);
    expect(loadCalls).toEqual([alice]);

    // Written and indexed through the repos (which bump the generation in Postgres); the worker
    // publishes the new generation to Redis, as the index processor does.
    const noteId = await indexNote(alice, {
      title: 'Cabin',
      body: 'The wifi password of the cabin is on the fridge: lakeside-2024. The key is under the blue pot.',
    });
    await generations.publish(alice, await env.notes.generation(alice));
    const found = await ask(retriever, alice, 'What is the wifi password of the cabin?');
    expect(found[0]?.noteId).toBe(noteId);
    expect(loadCalls).toEqual([alice, alice]);

    await env.notes.remove(alice, noteId);
    await generations.publish(alice, await env.notes.generation(alice));
    expect(await ask(retriever, alice, 'What is the wifi password of the cabin?')).toEqual([]);
    expect(loadCalls).toEqual([alice, alice, alice]);
  });
});
