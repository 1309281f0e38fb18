// `npm run eval:quality`: scores every answer of the labelled set (quality-dataset.json: a
// question, the notes retrieved for it, an answer labelled grounded or ungrounded) with the online
// scorer as the worker runs it (the real ONNX model; the notes chunked and embedded as the indexer
// does, so sources carry their stored vectors) and prints, per split: the AUC of the score
// (grounded vs ungrounded), both score distributions, precision/recall of "ungrounded" at the
// escalation threshold, means by kind, and the scorer's CPU per answer.
//
// Tune on dev only: EVAL_TUNE=1 grid-searches the scorer's options on the dev split and prints the
// best by AUC (then by the margin between the two medians); it never reads test. The reported
// figures use SCORE_DEFAULTS and the configured threshold (QUALITY_ESCALATION_THRESHOLD's default,
// or EVAL_THRESHOLD).
import { readFileSync } from 'node:fs';
import { loadConfig } from '@assistant/config';
import {
  chunkText,
  createBatchingEmbedder,
  defaultModelDir,
  loadEmbeddingModel,
} from '@assistant/embeddings';
import {
  SCORE_DEFAULTS,
  type ScoredSource,
  type ScoreOptions,
  scoreAnswer,
} from '../src/pipeline/score-answer.ts';

type Item = {
  id: string;
  split: 'dev' | 'test';
  question: string;
  sources: string[];
  answer: string;
  label: 'grounded' | 'ungrounded';
  kind: string;
};
type Notes = { notes: { id: string; title: string; body: string }[] };

const load = <T>(file: string) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as T;
const dataset = load<{ items: Item[] }>('./quality-dataset.json');
const notes = new Map(load<Notes>('./retrieval-dataset.json').notes.map((n) => [n.id, n]));

const config = loadConfig({
  REDIS_URL: 'redis://127.0.0.1:6379',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  ADMIN_TOKEN: 'eval-admin-token-0123456789',
  ...(process.env.EVAL_THRESHOLD ? { QUALITY_ESCALATION_THRESHOLD: process.env.EVAL_THRESHOLD } : {}),
});
const threshold = config.quality.escalationThreshold;

const model = await loadEmbeddingModel(defaultModelDir(process.env), {
  intraOpNumThreads: config.worker.embeddingThreads,
});
try {
  await model.warmUp();
  const embedder = createBatchingEmbedder(model);

  // Each note chunked and embedded as the indexer stores it: `${title}\n${chunk}`.
  const chunksOf = new Map<string, ScoredSource[]>();
  for (const id of new Set(dataset.items.flatMap((item) => item.sources))) {
    const note = notes.get(id);
    if (!note) throw new Error(`quality-dataset.json names note ${id}, not in retrieval-dataset.json`);
    const title = model.truncateToTokens(note.title, config.retrieval.titleTokens);
    const pieces = chunkText(
      note.body,
      {
        maxTokens: model.maxTextTokens - model.countTokens(title) - 1,
        overlapTokens: config.retrieval.overlapTokens,
      },
      (text) => model.countTokens(text),
    );
    const vectors = await embedder.embed(pieces.map((piece) => `${title}\n${piece.text}`));
    chunksOf.set(
      id,
      pieces.map((piece, i) => ({ title: note.title, text: piece.text, vector: vectors[i]! })),
    );
  }
  const sourcesOf = (item: Item) => item.sources.flatMap((id) => chunksOf.get(id)!);

  async function scoreAll(items: Item[], options: ScoreOptions) {
    const out: { item: Item; score: number; cpuMs: number; wallMs: number }[] = [];
    for (const item of items) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const quality = await scoreAnswer(
        { answer: item.answer, sources: sourcesOf(item), truncated: false },
        { embedder },
        options,
      );
      const used = process.cpuUsage(cpu);
      out.push({
        item,
        score: quality.score,
        cpuMs: (used.user + used.system) / 1000,
        wallMs: performance.now() - started,
      });
    }
    return out;
  }

  const dev = dataset.items.filter((item) => item.split === 'dev');
  const test = dataset.items.filter((item) => item.split === 'test');

  if (process.env.EVAL_TUNE === '1') {
    const grid: ScoreOptions[] = [];
    for (const cosineLow of [0.1, 0.15, 0.2, 0.25, 0.3])
      for (const cosineHigh of [0.4, 0.5, 0.55, 0.6, 0.7])
        for (const cosineWeight of [0, 0.25, 0.5, 0.75, 1])
          for (const specificWeight of [1, 2, 3, 5])
            for (const gradedScore of [true, false])
              if (cosineHigh > cosineLow)
                grid.push({
                  ...SCORE_DEFAULTS,
                  cosineLow,
                  cosineHigh,
                  cosineWeight,
                  specificWeight,
                  gradedScore,
                });
    // The sentence vectors do not depend on the options: embed once, then score from the cache.
    const memo = new Map<string, Float32Array>();
    const memoEmbedder = {
      async embed(texts: string[]) {
        const missing = texts.filter((t) => !memo.has(t));
        if (missing.length > 0) {
          const vectors = await embedder.embed(missing);
          for (const [i, t] of missing.entries()) memo.set(t, vectors[i]!);
        }
        return texts.map((t) => memo.get(t)!);
      },
    };
    const ranked: { options: ScoreOptions; auc: number; margin: number }[] = [];
    for (const options of grid) {
      const scored: { label: string; score: number }[] = [];
      for (const item of dev) {
        const q = await scoreAnswer(
          { answer: item.answer, sources: sourcesOf(item), truncated: false },
          { embedder: memoEmbedder },
          options,
        );
        scored.push({ label: item.label, score: q.score });
      }
      const g = scored.filter((s) => s.label === 'grounded').map((s) => s.score);
      const u = scored.filter((s) => s.label === 'ungrounded').map((s) => s.score);
      ranked.push({ options, auc: auc(g, u), margin: quantile(g, 0.5) - quantile(u, 0.5) });
    }
    ranked.sort((a, b) => b.auc - a.auc || b.margin - a.margin);
    console.log(
      `tuning on dev (${dev.length} answers), ${grid.length} grid points; best 3, then the best 2 at each embedding weight:`,
    );
    const best = (w: number) => ranked.filter((r) => r.options.cosineWeight === w).slice(0, 2);
    for (const r of [...ranked.slice(0, 3), ...[0.25, 0.5, 0.75, 1].flatMap(best)]) {
      const { cosineLow, cosineHigh, cosineWeight, specificWeight, gradedScore } = r.options;
      console.log(
        `  auc ${r.auc.toFixed(3)} median margin ${r.margin.toFixed(3)}  low ${cosineLow} high ${cosineHigh} cosineWeight ${cosineWeight} specificWeight ${specificWeight} graded ${gradedScore}`,
      );
    }
  }

  console.log(
    `scorer: ${JSON.stringify(SCORE_DEFAULTS)}; threshold ${threshold} (score < threshold = flagged ungrounded)`,
  );
  const allCpu: number[] = [];
  const allWall: number[] = [];
  for (const [name, items] of [
    ['dev', dev],
    ['test', test],
  ] as const) {
    const scored = await scoreAll(items, SCORE_DEFAULTS);
    allCpu.push(...scored.map((s) => s.cpuMs));
    allWall.push(...scored.map((s) => s.wallMs));
    const g = scored.filter((s) => s.item.label === 'grounded').map((s) => s.score);
    const u = scored.filter((s) => s.item.label === 'ungrounded').map((s) => s.score);
    const flagged = scored.filter((s) => s.score < threshold);
    const truePositives = flagged.filter((s) => s.item.label === 'ungrounded').length;
    console.log(`\n${name}: ${items.length} answers (${g.length} grounded, ${u.length} ungrounded)`);
    console.log(`  AUC ${auc(g, u).toFixed(3)}`);
    console.log(`  grounded   ${summary(g)}`);
    console.log(`  ungrounded ${summary(u)}`);
    console.log(`  histogram (0.1 buckets)  grounded ${histogram(g)}  ungrounded ${histogram(u)}`);
    console.log(
      `  below ${threshold}: precision ${(truePositives / Math.max(1, flagged.length)).toFixed(3)} recall ${(truePositives / Math.max(1, u.length)).toFixed(3)} (ungrounded as the positive class; ${flagged.length} flagged)`,
    );
    const kinds = [...new Set(items.map((i) => i.kind))];
    console.log(
      `  mean by kind: ${kinds
        .map((k) => {
          const of = scored.filter((s) => s.item.kind === k).map((s) => s.score);
          return `${k} ${(of.reduce((a, b) => a + b, 0) / of.length).toFixed(3)}`;
        })
        .join(', ')}`,
    );
    if (process.env.EVAL_MISSES === '1' && name === 'dev') {
      for (const s of scored) {
        const wrong = (s.item.label === 'grounded') === s.score < threshold;
        if (wrong) console.log(`    miss ${s.item.id} ${s.item.kind} ${s.score}: ${s.item.answer}`);
      }
    }
  }
  console.log(
    `\nscorer CPU per answer (ms, this process, user+system): ${summary(allCpu)}; wall ${summary(allWall)}`,
  );
  // Ablations (reported, not chosen from): each part alone, on both splits.
  const every = { quoteAt: 2, maxEmbedded: 1000 };
  for (const [name, options] of [
    ['embedding only (every sentence embedded)', { ...SCORE_DEFAULTS, ...every, cosineWeight: 1 }],
    ['words only, quotes too (cosine weight 0)', { ...SCORE_DEFAULTS, cosineWeight: 0 }],
    [
      'with the embedding, at most 2 sentences (QUALITY_EMBEDDED_SENTENCES=2)',
      { ...SCORE_DEFAULTS, maxEmbedded: 2 },
    ],
    ['with the embedding, every sentence embedded', { ...SCORE_DEFAULTS, ...every }],
  ] as const) {
    const aucs: string[] = [];
    for (const [split, items] of [
      ['dev', dev],
      ['test', test],
    ] as const) {
      const scored = await scoreAll(items, options);
      const g = scored.filter((x) => x.item.label === 'grounded').map((x) => x.score);
      const u = scored.filter((x) => x.item.label === 'ungrounded').map((x) => x.score);
      aucs.push(`${split} AUC ${auc(g, u).toFixed(3)}`);
    }
    console.log(`ablation, ${name}: ${aucs.join(', ')}`);
  }
  // Longer answers cost more (one inference over all their sentences): answers of n sentences
  // made of the set's grounded ones, each scored 20 times against 4 of the set's notes.
  const pool = dataset.items
    .filter((item) => item.label === 'grounded')
    .flatMap((item) => item.answer.split(/(?<=[.!?])\s+/));
  const sources = ['n01', 'n02', 'n29', 'n30'].flatMap((id) => chunksOf.get(id) ?? []);
  for (const [n, options] of [1, 3, 6, 10].flatMap(
    (k) =>
      [
        [k, SCORE_DEFAULTS],
        [k, { ...SCORE_DEFAULTS, maxEmbedded: 2 }],
        [k, { ...SCORE_DEFAULTS, quoteAt: 2, maxEmbedded: 100 }],
      ] as const,
  )) {
    const cpu: number[] = [];
    for (let round = 0; round < 20; round++) {
      const answer = Array.from({ length: n }, (_, i) => pool[(round * n + i) % pool.length]!).join(' ');
      const started = process.cpuUsage();
      await scoreAnswer({ answer, sources, truncated: false }, { embedder }, options);
      const used = process.cpuUsage(started);
      cpu.push((used.user + used.system) / 1000);
    }
    const mode =
      options.quoteAt > 1
        ? 'every sentence embedded'
        : options.maxEmbedded === 0
          ? 'defaults: words only, no inference'
          : `quotes not embedded, at most ${options.maxEmbedded}`;
    console.log(`  ${String(n).padStart(2)} sentences (${mode}): CPU ms ${summary(cpu)}`);
  }
} finally {
  await model.close();
}

/** Probability that a random grounded answer outscores a random ungrounded one (ties count half). */
function auc(positive: number[], negative: number[]): number {
  let wins = 0;
  for (const p of positive) for (const n of negative) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / Math.max(1, positive.length * negative.length);
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function summary(values: number[]): string {
  const f = (x: number) => x.toFixed(3);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return `min ${f(quantile(values, 0))} p25 ${f(quantile(values, 0.25))} median ${f(quantile(values, 0.5))} p75 ${f(quantile(values, 0.75))} p95 ${f(quantile(values, 0.95))} max ${f(quantile(values, 1))} mean ${f(mean)}`;
}

function histogram(values: number[]): string {
  const buckets = new Array<number>(10).fill(0);
  for (const v of values) buckets[Math.min(9, Math.floor(v * 10))]!++;
  return `[${buckets.join(' ')}]`;
}
