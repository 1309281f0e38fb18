// `npm run measure:retrieval`: what the fused ranking costs next to the current (hybrid) one, per
// question and per 1,000 notes. Builds a user of NOTES notes (default 1,000; the eval set's note
// texts, each made distinct by a serial number) with one chunk each and random unit vectors (a
// cosine scan costs the same whatever the values), so no model runs; asks the eval set's
// questions with random vectors and reports worker CPU and wall time per question for both
// rankings, and the heap taken by the vector matrix and by the BM25 index. Run with
// `node --expose-gc` (the npm script does) so the heap figures are measured after a collection.
import { readFileSync } from 'node:fs';
import { loadConfig } from '@assistant/config';
import { createChunksRepo, createDb, createNotesRepo, createUsersRepo } from '@assistant/db';
import { vectorToBytes } from '@assistant/embeddings';
import { createTestDatabase, testServers } from '@assistant/testing';
import { createFusedRetriever, FUSED_DEFAULTS } from '../src/retrieval/fused-retriever.ts';
import { createHybridRetriever } from '../src/retrieval/hybrid-retriever.ts';
import { buildLexicalIndex } from '../src/retrieval/lexical-index.ts';
import { createUserVectorIndex } from '../src/retrieval/user-vector-index.ts';

type Dataset = { notes: { title: string; body: string }[]; questions: { query: string }[] };
const dataset = JSON.parse(readFileSync(new URL('./hard-dataset.json', import.meta.url), 'utf8')) as Dataset;
const NOTES = Number(process.env.NOTES ?? 1000);
const DIMENSION = 384;
const config = loadConfig({
  REDIS_URL: testServers.redisUrl,
  DATABASE_URL: testServers.databaseUrl,
  ADMIN_TOKEN: 'measure-admin-token-0123456789',
}).retrieval;

let seed = 42;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
function unitVector(): Float32Array {
  const v = new Float32Array(DIMENSION);
  let norm = 0;
  for (let i = 0; i < DIMENSION; i++) {
    v[i] = random() - 0.5;
    norm += v[i]! * v[i]!;
  }
  for (let i = 0; i < DIMENSION; i++) v[i]! /= Math.sqrt(norm);
  return v;
}
const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const database = await createTestDatabase('measure');
const db = createDb({ url: database.url, poolSize: 4 });
try {
  const notesRepo = createNotesRepo(db.db);
  const chunks = createChunksRepo(db.db);
  const user = await createUsersRepo(db.db).createUserWithKey({ tier: 'internal' });
  const inputs = Array.from({ length: NOTES }, (_, i) => {
    const base = dataset.notes[i % dataset.notes.length]!;
    return { title: `${base.title} #${i}`, body: `${base.body}\nEntry ${i}, ref R-${100000 + i}.`, tags: [] };
  });
  const { notes } = await notesRepo.create(user.id, inputs);
  for (const [i, note] of notes.entries()) {
    await chunks.replaceChunks(note.id, note.version, [
      {
        position: 0,
        text: inputs[i]!.body,
        startChar: 0,
        endChar: inputs[i]!.body.length,
        tokenCount: 0,
        embedding: vectorToBytes(unitVector()),
      },
    ]);
  }

  const index = createUserVectorIndex(
    { loadChunks: (id) => chunks.loadUserChunks(id), currentGeneration: (id) => notesRepo.generation(id) },
    { maxBytes: 1024 * 1024 * 1024 },
  );
  const stored = await chunks.loadUserChunks(user.id);
  // The matrix is one Float32Array: its size is exact. The BM25 index is many small objects: its
  // heap is measured over ten copies kept alive at once, after forced collections.
  const matrixBytes = stored.length * DIMENSION * 4;
  const texts = stored.map((c) => `${c.title}\n${c.text}`);
  const copies = 10;
  const beforeLexical = heap();
  const kept = Array.from({ length: copies }, () => buildLexicalIndex(texts));
  const lexicalBytes = (heap() - beforeLexical) / copies;
  const lexical = kept[0]!;
  const buildStarted = performance.now();
  buildLexicalIndex(stored.map((c) => `${c.title}\n${c.text}`));
  const buildMs = performance.now() - buildStarted;

  const hybrid = createHybridRetriever(
    { index, lexicalSearch: (id, words, limit) => chunks.lexicalSearch(id, words, limit) },
    {
      ranking: 'hybrid',
      minScore: config.minScore,
      lexicalMinScore: config.lexicalMinScore,
      candidates: config.candidates,
      rrfK: config.rrfK,
      lexicalWeight: config.lexicalWeight,
    },
  );
  const fused = createFusedRetriever({ index }, { ...FUSED_DEFAULTS, minScore: config.minScore });
  const questions = dataset.questions.map((q) => ({ query: q.query, vector: unitVector() }));
  // Warm: the matrix and the BM25 index are built once per generation, not per question.
  await fused.retrieve({ userId: user.id, ...questions[0]!, limit: config.topK });

  async function time(retrieve: typeof fused.retrieve) {
    const wall: number[] = [];
    const cpuStart = process.cpuUsage();
    for (let round = 0; round < 3; round++) {
      for (const q of questions) {
        const started = performance.now();
        await retrieve({ userId: user.id, ...q, limit: config.topK });
        wall.push(performance.now() - started);
      }
    }
    const cpu = process.cpuUsage(cpuStart);
    wall.sort((a, b) => a - b);
    return {
      cpuMs: (cpu.user + cpu.system) / 1000 / wall.length,
      p50: wall[Math.floor(wall.length / 2)]!,
      p95: wall[Math.floor(wall.length * 0.95)]!,
    };
  }
  const current = await time((input) => hybrid.retrieve(input));
  const next = await time((input) => fused.retrieve(input));
  const f = (x: number) => x.toFixed(2);
  console.log(`\n${NOTES} notes (one chunk each), ${questions.length} questions x 3, worker process only`);
  console.log(`ranking  worker CPU ms/question  wall p50 ms  wall p95 ms`);
  console.log(
    `hybrid   ${f(current.cpuMs).padStart(22)}  ${f(current.p50).padStart(11)}  ${f(current.p95).padStart(11)}`,
  );
  console.log(
    `fused    ${f(next.cpuMs).padStart(22)}  ${f(next.p50).padStart(11)}  ${f(next.p95).padStart(11)}`,
  );
  console.log(
    `\nheap: vector matrix ${(matrixBytes / 2 ** 20).toFixed(2)} MiB; BM25 index ${(lexicalBytes / 2 ** 20).toFixed(2)} MiB ` +
      `(${lexical.terms} terms; estimate counted against RETRIEVAL_CACHE_MB ${(lexical.bytes / 2 ** 20).toFixed(2)} MiB); ` +
      `BM25 build ${buildMs.toFixed(0)} ms once per generation${gc ? '' : ' (no --expose-gc: heap figures are rough)'}`,
  );
} finally {
  await db.close();
  await database.drop();
}
