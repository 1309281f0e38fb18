import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingInputError } from './embedding-errors.ts';
import type { EmbeddingModel } from './embedding-model.ts';
import { loadEmbeddingModel } from './embedding-model.ts';
import { defaultModelDir } from './model-dir.ts';
import { dot } from './vector.ts';

const PARAPHRASES: [string, string][] = [
  ['How do I reset my password?', 'I forgot my password, how can I change it?'],
  ['A man is eating food.', 'A man is eating a piece of bread.'],
  ['The weather is lovely today.', "It's so sunny outside today!"],
  [
    'Where can I download the invoice for my last order?',
    'How do I get a receipt for my most recent purchase?',
  ],
];
const UNRELATED: [string, string][] = [
  ['How do I reset my password?', 'The stock market fell sharply today.'],
  ['A man is eating food.', 'The girl is carrying a baby.'],
  ['The weather is lovely today.', 'Kubernetes pods restart when the liveness probe fails.'],
  ['Where can I download the invoice for my last order?', 'Penguins live mostly in the Southern Hemisphere.'],
];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

let model: EmbeddingModel;

beforeAll(async () => {
  model = await loadEmbeddingModel(defaultModelDir(process.env), { intraOpNumThreads: 2 });
});

afterAll(async () => {
  await model.close();
});

describe('EmbeddingModel (all-MiniLM-L6-v2, q4)', () => {
  it('describes itself from the model folder', () => {
    expect(model.dimension).toBe(384);
    expect(model.maxTokens).toBe(256);
    expect(model.maxTextTokens).toBe(254);
    expect(model.modelId).toBe('all-MiniLM-L6-v2-ONNX');
    expect(model.onnxPath).toMatch(/onnx[\\/]model_q4\.onnx$/);
    expect(model.pooling).toBe('mean');
  });

  it('scores every paraphrase pair clearly above every unrelated pair', async () => {
    const pairs = [...PARAPHRASES, ...UNRELATED];
    const vectors = await model.embedBatch(pairs.flat());
    const scores = pairs.map((_, i) => dot(vectors[2 * i]!, vectors[2 * i + 1]!));
    const paraphrase = scores.slice(0, PARAPHRASES.length);
    const unrelated = scores.slice(PARAPHRASES.length);
    for (const score of paraphrase) expect(score).toBeGreaterThan(0.5);
    for (const score of unrelated) expect(score).toBeLessThan(0.3);
    expect(Math.min(...paraphrase)).toBeGreaterThan(Math.max(...unrelated));
  });

  it('returns unit-length vectors of the model dimension', async () => {
    const [vector] = await model.embedBatch(['Unit length please.']);
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector).toHaveLength(384);
    expect(Math.sqrt(dot(vector!, vector!))).toBeCloseTo(1, 5);
  });

  it('gives the same vectors in a padded batch as one by one', async () => {
    const texts = [
      'Short.',
      'A considerably longer sentence, so the others in this batch get padded to its length.',
      ...PARAPHRASES.flat(),
    ];
    const batched = await model.embedBatch(texts);
    for (const [i, text] of texts.entries()) {
      const [alone] = await model.embedBatch([text]);
      expect(maxAbsDiff(batched[i]!, alone!)).toBeLessThan(1e-4);
    }
  });

  it('truncates very long text to the window, keeping [SEP] last, instead of failing', async () => {
    // One word piece per word, so a cut after a word can land exactly on the window.
    const long = 'the cat sat on the mat and looked out of the window while it rained '.repeat(300);
    expect(model.countTokens(long)).toBeGreaterThan(3000);
    const ids = model.encode(long);
    expect(ids).toHaveLength(model.maxTokens);
    expect(ids[0]).toBe(101); // [CLS]
    expect(ids.at(-1)).toBe(102); // [SEP]
    const [vector] = await model.embedBatch([long]);
    expect(Math.sqrt(dot(vector!, vector!))).toBeCloseTo(1, 5);
    // Exactly the embedding of the part that fits.
    expect(
      model.countTokens(model.truncateToTokens('Embedding models read pieces. '.repeat(99), 254)),
    ).toBeLessThanOrEqual(254);
    const head = model.truncateToTokens(long, model.maxTextTokens);
    expect(model.countTokens(head)).toBe(model.maxTextTokens);
    const [ofHead] = await model.embedBatch([head]);
    expect(maxAbsDiff(vector!, ofHead!)).toBeLessThan(1e-4);
  });

  it('embeds a megabyte of text from its first window', async () => {
    const huge = 'lorem ipsum dolor sit amet '.repeat(40_000);
    const [vector] = await model.embedBatch([huge]);
    expect(model.encode(huge)).toHaveLength(256);
    expect(Math.sqrt(dot(vector!, vector!))).toBeCloseTo(1, 5);
  });

  it('rejects empty and blank texts with EmbeddingInputError empty_text', async () => {
    for (const texts of [[''], ['   \n\t'], ['fine', ''], ['\u200b\u200b']]) {
      const attempt = model.embedBatch(texts);
      await expect(attempt).rejects.toBeInstanceOf(EmbeddingInputError);
      await expect(attempt).rejects.toMatchObject({ code: 'empty_text' });
    }
    expect(await model.embedBatch([])).toEqual([]);
  });

  it('tokenizes into word pieces without special tokens', () => {
    const { ids, tokens } = model.tokenize('Tokenization is unbelievable!');
    expect(tokens).toEqual(['token', '##ization', 'is', 'unbelievable', '!']);
    expect(ids).toHaveLength(tokens.length);
    expect(model.countTokens('Tokenization is unbelievable!')).toBe(5);
    expect(model.truncateToTokens('Tokenization is unbelievable!', 3)).toBe('Tokenization is');
  });

  it('reports the duration of a warm-up inference', async () => {
    const ms = await model.warmUp();
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(5_000);
  });
});

describe('loadEmbeddingModel', () => {
  it('honours a smaller maxTokens and refuses work once closed', async () => {
    const small = await loadEmbeddingModel(defaultModelDir(process.env), {
      maxTokens: 16,
      intraOpNumThreads: 1,
    });
    expect(
      small.encode(
        'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen',
      ),
    ).toHaveLength(16);
    await small.close();
    await expect(small.embedBatch(['late'])).rejects.toMatchObject({ code: 'model_closed' });
    await small.close(); // idempotent
  });
});
