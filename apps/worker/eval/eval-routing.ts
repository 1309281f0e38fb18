// `npm run eval:routing`: indexes the notes of hard-dataset.json with the real model into a
// throw-away Postgres database, and for every question of routing-dataset.json does what the
// pipeline does before it picks a model: embed, retrieve with the service's default retriever
// (fused, answerability gate on), and classify (nothing retrieved = no_context, else the rules
// of src/pipeline/classify.ts). Prints, per split, the accuracy per class and the confusion
// matrix (rows: label, columns: predicted), and per origin the share classified right.
//
// The nearest-centroid rule: the centroids are the mean embeddings of dev's simple and complex
// questions, and the margin is the one at which the centroid rule alone does best on dev, each dev
// question scored leave-one-out (against centroids built without it), by accuracy. EVAL_WRITE_CENTROIDS=1
// writes them to src/pipeline/centroids/routing-centroids.json, which the worker loads; EVAL_CENTROIDS=0
// reports the rules without it.
//
// Tune on dev only: EVAL_TUNE=1 grid-searches the classifier's thresholds on dev (best by
// macro-accuracy of simple and complex among the questions the retriever answered) and prints
// the best; it never reads test (EVAL_FEATURES=1 prints every grid point). EVAL_MISSES=1 lists the misses on dev with their reasons.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '@assistant/config';
import { createDb, createUsersRepo } from '@assistant/db';
import { defaultModelDir, loadEmbeddingModel } from '@assistant/embeddings';
import { createTestDatabase, testServers } from '@assistant/testing';
import {
  CLASSIFIER_DEFAULTS,
  type ClassifierOptions,
  centroidLean,
  classifyQuery,
  type RoutingCentroids,
} from '../src/pipeline/classify.ts';
import type { RetrievedChunk } from '../src/pipeline/retrieve.ts';
import { CENTROIDS_FILE, centroidOf, type StoredCentroids } from '../src/pipeline/routing-centroids.ts';
import { createFusedRetriever, FUSED_DEFAULTS } from '../src/retrieval/fused-retriever.ts';
import { createEvalIndex } from './eval-index.ts';

const CLASSES = ['simple', 'complex', 'no_context'] as const;
type QueryClass = (typeof CLASSES)[number];
type Question = {
  id: string;
  query: string;
  label: QueryClass;
  split: 'dev' | 'test' | 'fresh';
  origin: string;
};
type Notes = { notes: { id: string; title: string; body: string; tags: string[] }[] };

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const read = <T>(file: string) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as T;
const dataset = read<{ notes: string; questions: Question[] }>('./routing-dataset.json');
const { notes } = read<Notes>(`./${dataset.notes}`);

// The retriever as the service configures it by default.
const config = loadConfig({
  REDIS_URL: testServers.redisUrl,
  DATABASE_URL: testServers.databaseUrl,
  ADMIN_TOKEN: 'eval-admin-token-0123456789',
});

const database = await createTestDatabase('eval-routing');
const db = createDb({ url: database.url, poolSize: 4 });
const model = await loadEmbeddingModel(defaultModelDir(process.env));
try {
  const { embedder, notesRepo, indexer, index } = createEvalIndex(db, model, config.retrieval);
  const user = await createUsersRepo(db.db).createUserWithKey({ tier: 'internal' });
  const stored = await notesRepo.create(
    user.id,
    notes.map((n) => ({ title: n.title, body: n.body, tags: n.tags })),
  );
  for (const note of stored.notes)
    await indexer.indexNote({ user_id: user.id, note_id: note.id, version: 1 });
  const retriever = createFusedRetriever(
    { index },
    { ...FUSED_DEFAULTS, minScore: config.retrieval.minScore },
  );

  // Retrieval does not depend on the classifier: run it once, classify many times.
  const vectors = await embedder.embed(dataset.questions.map((q) => q.query));
  const retrieved = new Map<string, RetrievedChunk[]>();
  for (const [i, q] of dataset.questions.entries()) {
    retrieved.set(
      q.id,
      await retriever.retrieve({
        userId: user.id,
        query: q.query,
        vector: vectors[i]!,
        limit: config.retrieval.topK,
      }),
    );
  }

  const vectorOf = new Map(dataset.questions.map((q, i) => [q.id, vectors[i]!]));
  function predict(q: Question, options: ClassifierOptions) {
    const sources = retrieved.get(q.id)!;
    if (sources.length === 0) return { class: 'no_context' as const, reasons: ['retrieval:nothing'] };
    return classifyQuery({ query: q.query, sources, vector: vectorOf.get(q.id) }, options);
  }

  // Centroids from dev only; the margin by leave-one-out on dev.
  const dim = model.dimension;
  const devOf = (label: QueryClass) =>
    dataset.questions.filter((q) => q.split === 'dev' && q.label === label);
  const vectorsOf = (label: QueryClass, exclude?: Question) =>
    devOf(label)
      .filter((q) => q !== exclude)
      .map((q) => vectorOf.get(q.id)!);
  const train = (exclude?: Question) => ({
    simple: centroidOf(vectorsOf('simple', exclude), dim),
    complex: centroidOf(vectorsOf('complex', exclude), dim),
  });
  const looLean = [...devOf('simple'), ...devOf('complex')].map(
    (q) => [q, centroidLean(vectorOf.get(q.id)!, { ...train(q), margin: 0 })] as const,
  );
  let margin = 0;
  let bestLoo = -1;
  for (let step = 0; step <= 40; step++) {
    const m = Math.round((-0.05 + step * 0.005) * 1000) / 1000;
    // Accuracy over dev's mix, not the macro: simple lookups are most questions, and each one
    // sent to the dear model costs money (the macro picked a negative margin that sent a fifth of
    // test's simple questions there).
    const right = looLean.filter(([q, lean]) => (lean > m ? 'complex' : 'simple') === q.label).length;
    const accuracy = right / looLean.length;
    if (accuracy > bestLoo) {
      bestLoo = accuracy;
      margin = m;
    }
  }
  const centroids: RoutingCentroids = { ...train(), margin };
  console.log(
    `centroids: trained on dev (${devOf('simple').length} simple, ${devOf('complex').length} complex); margin ${margin}, where the centroid rule alone does best on dev left-one-out (accuracy ${pct(bestLoo)})`,
  );
  if (process.env.EVAL_WRITE_CENTROIDS === '1') {
    const round = (v: Float32Array) => Array.from(v, (x) => Math.round(x * 1e6) / 1e6);
    const stored: StoredCentroids = {
      model_id: model.modelId,
      trained_on: 'apps/worker/eval/routing-dataset.json, split dev (npm run eval:routing)',
      margin,
      simple: round(centroids.simple),
      complex: round(centroids.complex),
    };
    writeFileSync(CENTROIDS_FILE, `${JSON.stringify(stored)}\n`);
    console.log(`wrote ${CENTROIDS_FILE.pathname}`);
  }

  type Confusion = Record<QueryClass, Record<QueryClass, number>>;
  function confusion(questions: Question[], options: ClassifierOptions): Confusion {
    const m = Object.fromEntries(
      CLASSES.map((l) => [l, Object.fromEntries(CLASSES.map((p) => [p, 0]))]),
    ) as Confusion;
    for (const q of questions) m[q.label][predict(q, options).class] += 1;
    return m;
  }
  const rowTotal = (m: Confusion, l: QueryClass) => CLASSES.reduce((n, p) => n + m[l][p], 0);
  const accuracyOf = (m: Confusion, l: QueryClass) => m[l][l] / Math.max(1, rowTotal(m, l));

  /** What the thresholds are tuned for: simple vs complex among the questions the retriever let through. */
  function routingScore(questions: Question[], options: ClassifierOptions): number {
    let right = { simple: 0, complex: 0 };
    let seen = { simple: 0, complex: 0 };
    for (const q of questions) {
      if (q.label === 'no_context') continue;
      const predicted = predict(q, options).class;
      if (predicted === 'no_context') continue;
      seen = { ...seen, [q.label]: seen[q.label] + 1 };
      if (predicted === q.label) right = { ...right, [q.label]: right[q.label] + 1 };
    }
    return (right.simple / Math.max(1, seen.simple) + right.complex / Math.max(1, seen.complex)) / 2;
  }

  function report(split: Question['split'], options: ClassifierOptions) {
    const questions = dataset.questions.filter((q) => q.split === split);
    const m = confusion(questions, options);
    const all = questions.length;
    const right = CLASSES.reduce((n, l) => n + m[l][l], 0);
    console.log(`\n${split} (${all} questions): overall accuracy ${pct(right / all)}`);
    console.log(['label \\ predicted', ...CLASSES, 'n', 'accuracy'].map((c) => c.padEnd(18)).join(''));
    for (const l of CLASSES) {
      console.log(
        [l, ...CLASSES.map((p) => String(m[l][p])), String(rowTotal(m, l)), pct(accuracyOf(m, l))]
          .map((c) => c.padEnd(18))
          .join(''),
      );
    }
    console.log(
      `simple vs complex among questions the retriever answered (macro): ${pct(routingScore(questions, options))}`,
    );
    const origins = [...new Set(questions.map((q) => q.origin))].sort();
    console.log('by origin: label, n, classified right');
    for (const origin of origins) {
      const of = questions.filter((q) => q.origin === origin);
      const ok = of.filter((q) => predict(q, options).class === q.label).length;
      console.log(
        `  ${origin.padEnd(24)} ${of[0]!.label.padEnd(11)} ${String(of.length).padStart(4)}  ${pct(ok / of.length)}`,
      );
    }
  }

  let options: ClassifierOptions = {
    ...CLASSIFIER_DEFAULTS,
    ...(process.env.EVAL_CENTROIDS === '0' ? {} : { centroids }),
  };
  if (process.env.EVAL_TUNE === '1') {
    const dev = dataset.questions.filter((q) => q.split === 'dev');
    let best = { score: -1, options };
    for (const complexMinNotes of [0, 2, 3, 4, 5]) {
      for (let complexMinWords = 8; complexMinWords <= 40; complexMinWords++) {
        const candidate = { ...options, complexMinWords, complexMinNotes };
        const score = routingScore(dev, candidate);
        if (process.env.EVAL_FEATURES === '1') console.log(`  ${JSON.stringify(candidate)} ${pct(score)}`);
        // Ties go to the longer threshold: fewer questions sent to the dearer model.
        if (score >= best.score) best = { score, options: candidate };
      }
    }
    console.log(`tuned on dev: ${JSON.stringify(best.options)} (macro ${pct(best.score)})`);
    options = best.options;
  }
  const { centroids: used, ...thresholds } = options;
  console.log(
    `classifier: ${JSON.stringify(thresholds)}, centroid rule ${used ? `on (margin ${used.margin})` : 'off'}; retriever: fused, answerability gate on, top ${config.retrieval.topK}`,
  );
  report('dev', options);
  report('test', options);
  report('fresh', options);
  if (process.env.EVAL_MISSES === '1') {
    console.log('\nmisses on dev and fresh (fresh: read after freezing, never tuned on):');
    for (const q of dataset.questions.filter((x) => x.split !== 'test')) {
      const p = predict(q, options);
      if (p.class !== q.label) {
        const notesOf = new Set(retrieved.get(q.id)!.map((s) => s.noteId)).size;
        console.log(
          `  ${q.id} ${q.label} → ${p.class} [${p.reasons.join(' ')}] notes=${notesOf}: ${q.query}`,
        );
      }
    }
  }
} finally {
  await model.close();
  await db.close();
  await database.drop();
}
