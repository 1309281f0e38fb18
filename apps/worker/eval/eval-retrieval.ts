// `npm run eval:retrieval`: indexes the labelled notes of retrieval-dataset.json with the real
// model into a throw-away Postgres database, asks every question, and prints top-1, recall@3 and
// MRR (note level) for dense, lexical and hybrid ranking, overall and by question kind, plus how
// well the relevance floor separates answerable from unanswerable questions. Defaults are the
// service's; override with RETRIEVAL_MIN_SCORE, LEXICAL_MIN, LEXICAL_WEIGHT, RRF_K to compare.
import { readFileSync } from 'node:fs';
import { createChunksRepo, createDb, createNotesRepo, createUsersRepo } from '@assistant/db';
import { createBatchingEmbedder, defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import { createLogger, createMetrics } from '@assistant/telemetry';
import { createTestDatabase } from '@assistant/testing';
import { createIndexProcessor } from '../src/indexing/index-processor.ts';
import { createHybridRetriever, type Ranking } from '../src/retrieval/hybrid-retriever.ts';
import { createUserVectorIndex } from '../src/retrieval/user-vector-index.ts';

type Dataset = {
  notes: { id: string; title: string; body: string; tags: string[] }[];
  questions: { id: string; query: string; note_id: string | null; kind: string }[];
};

const dataset = JSON.parse(
  readFileSync(new URL('./retrieval-dataset.json', import.meta.url), 'utf8'),
) as Dataset;
const MIN_SCORE = Number(process.env.RETRIEVAL_MIN_SCORE ?? 0.3);
const LEXICAL_WEIGHT = Number(process.env.LEXICAL_WEIGHT ?? 0.5);
const RRF_K = Number(process.env.RRF_K ?? 10);
const LEXICAL_MIN = Number(process.env.LEXICAL_MIN ?? 0.25);

const database = await createTestDatabase('eval');
const db = createDb({ url: database.url, poolSize: 4 });
const model = await loadEmbeddingModel(defaultModelDir(process.env));
try {
  const embedder = createBatchingEmbedder(model);
  const notesRepo = createNotesRepo(db.db);
  const chunks = createChunksRepo(db.db);
  const user = await createUsersRepo(db.db).createUserWithKey({ tier: 'internal' });
  const { notes } = await notesRepo.create(
    user.id,
    dataset.notes.map((n) => ({ title: n.title, body: n.body, tags: n.tags })),
  );
  const labelToId = new Map(dataset.notes.map((n, i) => [n.id, notes[i]!.id]));

  const indexer = createIndexProcessor({
    chunks,
    embedder,
    tokenizer: model,
    // No Redis here: the vector index reads the generation straight from Postgres.
    generations: { publish: async (_userId, generation) => generation },
    metrics: createMetrics('eval'),
    logger: createLogger({ service: 'eval', level: 'silent' }),
    options: { overlapTokens: 32, titleTokens: 24 },
  });
  const started = performance.now();
  for (const note of notes) await indexer.indexNote({ user_id: user.id, note_id: note.id, version: 1 });
  const indexMs = performance.now() - started;

  const index = createUserVectorIndex(
    { loadChunks: (id) => chunks.loadUserChunks(id), currentGeneration: (id) => notesRepo.generation(id) },
    { maxBytes: 64 * 1024 * 1024 },
  );
  const lexicalSearch = (id: string, words: string[], limit: number) =>
    chunks.lexicalSearch(id, words, limit);
  const rankings: Ranking[] = ['dense', 'lexical', 'hybrid'];
  const retrievers = Object.fromEntries(
    rankings.map((ranking) => [
      ranking,
      // For ranking quality every candidate counts (no floor); the floor is measured separately.
      createHybridRetriever(
        { index, lexicalSearch },
        {
          ranking,
          minScore: -1,
          lexicalMinScore: -1,
          candidates: 30,
          rrfK: RRF_K,
          lexicalWeight: LEXICAL_WEIGHT,
        },
      ),
    ]),
  ) as Record<Ranking, ReturnType<typeof createHybridRetriever>>;
  const floored = createHybridRetriever(
    { index, lexicalSearch },
    {
      ranking: 'hybrid',
      minScore: MIN_SCORE,
      lexicalMinScore: LEXICAL_MIN,
      candidates: 30,
      rrfK: RRF_K,
      lexicalWeight: LEXICAL_WEIGHT,
    },
  );

  type Tally = { n: number; top1: number; recall3: number; mrr: number };
  const tallies = new Map<string, Tally>();
  const tally = (key: string, rank: number) => {
    const t = tallies.get(key) ?? { n: 0, top1: 0, recall3: 0, mrr: 0 };
    t.n += 1;
    if (rank === 1) t.top1 += 1;
    if (rank >= 1 && rank <= 3) t.recall3 += 1;
    if (rank >= 1) t.mrr += 1 / rank;
    tallies.set(key, t);
  };

  let answerableFound = 0;
  let answerable = 0;
  let unanswerableEmpty = 0;
  let unanswerable = 0;
  for (const question of dataset.questions) {
    const [vector] = await embedder.embed([question.query]);
    const input = { userId: user.id, query: question.query, vector: vector!, limit: 10 };
    const kept = await floored.retrieve({ ...input, limit: 5 });
    if (question.note_id === null) {
      unanswerable += 1;
      if (kept.length === 0) unanswerableEmpty += 1;
      continue;
    }
    const expected = labelToId.get(question.note_id);
    answerable += 1;
    if (kept[0]?.noteId === expected) answerableFound += 1;
    for (const ranking of rankings) {
      const results = await retrievers[ranking].retrieve(input);
      const noteOrder = [...new Set(results.map((r) => r.noteId))];
      const rank = noteOrder.indexOf(expected ?? '') + 1;
      tally(`${ranking}|all`, rank);
      tally(`${ranking}|${question.kind}`, rank);
    }
  }

  const pct = (x: number, n: number) => `${((100 * x) / Math.max(1, n)).toFixed(1)}%`.padStart(7);
  console.log(
    `\n${dataset.notes.length} notes → indexed in ${(indexMs / 1000).toFixed(1)} s; ${answerable} answerable and ${unanswerable} unanswerable questions\n`,
  );
  const kinds = ['all', ...new Set(dataset.questions.filter((q) => q.note_id).map((q) => q.kind))];
  console.log(
    `${'ranking'.padEnd(9)}${'questions'.padEnd(12)}${'n'.padStart(4)}  ${'top-1'.padStart(7)} ${'recall@3'.padStart(8)} ${'MRR'.padStart(6)}`,
  );
  for (const ranking of rankings) {
    for (const kind of kinds) {
      const t = tallies.get(`${ranking}|${kind}`);
      if (!t) continue;
      console.log(
        `${ranking.padEnd(9)}${kind.padEnd(12)}${String(t.n).padStart(4)}  ${pct(t.top1, t.n)} ${pct(t.recall3, t.n).padStart(8)} ${(t.mrr / t.n).toFixed(3).padStart(6)}`,
      );
    }
  }
  console.log(
    `\nrelevance floor (hybrid, min cosine ${MIN_SCORE}, lexical floor ${LEXICAL_MIN}): right note first for ${pct(answerableFound, answerable)} of answerable; nothing returned for ${pct(unanswerableEmpty, unanswerable)} of unanswerable`,
  );
} finally {
  await model.close();
  await db.close();
  await database.drop();
}
