// Micro benchmark: sentences/s for one-by-one sequential embedding vs. 64 concurrent callers
// through the batching embedder (and a direct batch-32 baseline), on the real model.
// Run: npm run bench -w @assistant/embeddings   (needs `node scripts/setup-model.mjs` first;
// BENCH_THREADS overrides the intra-op thread count)
import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import type { BatchEmbeddingModel } from '../src/index.ts';
import { createBatchingEmbedder, defaultModelDir, loadEmbeddingModel } from '../src/index.ts';

const SENTENCES = 256;
const CONCURRENCY = 64;
const ROUNDS = 5; // each figure is the median of this many timed rounds

const subjects = ['The invoice', 'My password', 'The deployment', 'A customer', 'The report', 'Our API key'];
const verbs = [
  'failed to load',
  'was updated',
  'needs a review',
  'expired yesterday',
  'looks wrong',
  'is missing',
];
const tails = [
  'after the release.',
  'on the billing page.',
  'for the third time.',
  'since Monday.',
  'again.',
];
const sentences = Array.from(
  { length: SENTENCES },
  (_, i) => `${subjects[i % 6]} ${verbs[Math.floor(i / 6) % 6]} ${tails[Math.floor(i / 36) % 5]} (#${i})`,
);

type Measurement = { ms: number; inferences: number };

function median(results: Measurement[]): Measurement {
  const sorted = [...results].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const dir = defaultModelDir(process.env);
// BENCH_THREADS=1 shows what one intra-op thread does, e.g. when other work shares the cores.
const threads = Number(process.env.BENCH_THREADS) || availableParallelism();
const started = performance.now();
const model = await loadEmbeddingModel(dir, { intraOpNumThreads: threads });
const loadMs = performance.now() - started;
const warmUpMs = await model.warmUp();
const secondWarmUpMs = await model.warmUp();

let inferences = 0;
const counting: BatchEmbeddingModel = {
  embedBatch(texts) {
    inferences += 1;
    return model.embedBatch(texts);
  },
};

async function timed(work: () => Promise<void>): Promise<Measurement> {
  inferences = 0;
  const begin = performance.now();
  await work();
  return { ms: performance.now() - begin, inferences };
}

const embedder = createBatchingEmbedder(counting, { maxBatchSize: 32, maxWaitMs: 2 });
const modes = {
  sequential: async () => {
    for (const sentence of sentences) await counting.embedBatch([sentence]);
  },
  concurrent: async () => {
    let next = 0;
    // 64 callers, each embedding one sentence per call, keep 64 requests in flight throughout.
    const caller = async () => {
      while (next < sentences.length) await embedder.embed([sentences[next++]!]);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  },
  batch32: async () => {
    for (let i = 0; i < sentences.length; i += 32) await counting.embedBatch(sentences.slice(i, i + 32));
  },
};
// Modes take turns inside every round, so a burst of load from other processes on a shared
// machine hits all of them rather than skewing one.
const results: Record<keyof typeof modes, Measurement[]> = { sequential: [], concurrent: [], batch32: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, work] of Object.entries(modes)) {
    results[name as keyof typeof modes].push(await timed(work));
  }
}
const sequential = median(results.sequential);
const concurrent = median(results.concurrent);
const batch32 = median(results.batch32);
await model.close();

const row = (label: string, m: Measurement) =>
  `${label.padEnd(40)}${((SENTENCES / m.ms) * 1000).toFixed(0).padStart(12)}${(m.ms / SENTENCES).toFixed(2).padStart(14)}` +
  `${String(m.inferences).padStart(12)}${(SENTENCES / m.inferences).toFixed(1).padStart(12)}`;

console.log(
  `model ${model.modelId} (${relative(dir, model.onnxPath)}), ${threads} intra-op threads, node ${process.version}`,
);
console.log(
  `session create + load ${loadMs.toFixed(0)} ms, first warm-up ${warmUpMs.toFixed(1)} ms, ` +
    `second ${secondWarmUpMs.toFixed(1)} ms; ${SENTENCES} sentences, median of ${ROUNDS} rounds`,
);
console.log(
  `${'mode'.padEnd(40)}${'sentences/s'.padStart(12)}${'ms/sentence'.padStart(14)}${'inferences'.padStart(12)}${'avg batch'.padStart(12)}`,
);
console.log(row('one-by-one, sequential (batch 1)', sequential));
console.log(row(`batching embedder, ${CONCURRENCY} concurrent callers`, concurrent));
console.log(row('direct embedBatch, batch 32', batch32));
console.log(`ratio batching embedder / one-by-one: ${(sequential.ms / concurrent.ms).toFixed(2)}x`);
