import {
  createBatchingEmbedder,
  defaultModelDir,
  type Embedder,
  type EmbeddingModel,
  loadEmbeddingModel,
} from '@assistant/embeddings';
import { buildExtractiveAnswer } from '@assistant/llm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerSentences, SCORE_DEFAULTS, type ScoredSource, scoreAnswer } from './score-answer.ts';

// The scorer with the real ONNX model (all-MiniLM-L6-v2), as the worker holds it.
let model: EmbeddingModel;
let embedder: Embedder;
/** Texts the scorer asked the model to embed, per call. */
const calls: string[][] = [];

beforeAll(async () => {
  model = await loadEmbeddingModel(defaultModelDir(process.env), { intraOpNumThreads: 2 });
  const real = createBatchingEmbedder(model);
  embedder = {
    embed(texts) {
      calls.push(texts);
      return real.embed(texts);
    },
  };
});
afterAll(async () => {
  await model?.close();
});

const GARDEN: ScoredSource = {
  title: 'Tomatoes & veggie bed',
  text: 'Last frost date here is ~May 10. Start seeds indoors under lights around Mar 20. Water at the base, in the morning. Fish emulsion every 2 weeks once they flower.',
};
const CAR: ScoredSource = {
  title: 'Civic - maintenance log',
  text: 'Oil: 0W-20 full synthetic, every 7,500 mi. Tires rotated at every oil change. Registration renewal every June.',
};

async function withVectors(sources: ScoredSource[]): Promise<ScoredSource[]> {
  const vectors = await createBatchingEmbedder(model).embed(sources.map((s) => `${s.title}\n${s.text}`));
  return sources.map((s, i) => ({ ...s, vector: vectors[i]! }));
}

describe('answerSentences', () => {
  it('gives a marker after a stop to the sentence before it, and drops sentences without a content word', () => {
    expect(answerSentences('From your notes: Water at dawn. [1] Basil likes shade. [2] [1]')).toEqual([
      { text: 'From your notes: Water at dawn.', citations: [1] },
      { text: 'Basil likes shade.', citations: [2, 1] },
    ]);
    expect(answerSentences('So it is. - Feed it weekly [1, 3]\n- Rye flour [2-3]')).toEqual([
      { text: 'Feed it weekly', citations: [1, 3] },
      { text: 'Rye flour', citations: [2, 3] },
    ]);
  });
});

describe('scoreAnswer', () => {
  it('scores an answer copied from the notes high and one unrelated to them low', async () => {
    const sources = await withVectors([GARDEN, CAR]);
    const copied = await scoreAnswer(
      {
        answer: 'Start seeds indoors under lights around Mar 20. [1] Last frost date here is ~May 10. [1]',
        sources,
        truncated: false,
      },
      { embedder },
    );
    const unrelated = await scoreAnswer(
      {
        answer: 'The Eiffel Tower was completed in 1889 for the World Fair. [1] It is 330 metres tall. [1]',
        sources,
        truncated: false,
      },
      { embedder },
    );
    expect(copied.score).toBeGreaterThan(0.8);
    expect(copied).toMatchObject({
      groundedness: 1,
      citation_coverage: 1,
      citation_validity: 1,
      sentences: 2,
      supported_sentences: 2,
      no_context: false,
    });
    expect(unrelated.score).toBeLessThan(0.2);
    expect(unrelated.groundedness).toBe(0);
  });

  it('scores the extractive answerer (sentences quoted with their citations) high', async () => {
    const sources = await withVectors([GARDEN, CAR]);
    const answer = buildExtractiveAnswer('When do I start the tomato seeds indoors?', [
      { noteId: 'n1', ...GARDEN, score: 0.9 },
      { noteId: 'n2', ...CAR, score: 0.4 },
    ]);
    const quality = await scoreAnswer({ answer, sources, truncated: false }, { embedder });
    expect(quality.score).toBeGreaterThan(0.8);
    expect(quality.citation_coverage).toBe(1);
  });

  it('scores an answer that changes the notes’ numbers and names lower than the copy', async () => {
    const sources = await withVectors([GARDEN]);
    const copy = await scoreAnswer(
      { answer: 'Start seeds indoors under lights around Mar 20.', sources, truncated: false },
      { embedder },
    );
    const contradicting = await scoreAnswer(
      {
        answer: 'Start the seeds outdoors around February 2 under Osram grow lights.',
        sources,
        truncated: false,
      },
      { embedder },
    );
    expect(contradicting.score).toBeLessThan(0.5);
    expect(copy.score - contradicting.score).toBeGreaterThan(0.3);
  });

  it('counts citations of sources the model was not given as invalid', async () => {
    const sources = await withVectors([GARDEN]);
    const valid = await scoreAnswer(
      { answer: 'Water at the base, in the morning. [1]', sources, truncated: false },
      { embedder },
    );
    const invalid = await scoreAnswer(
      { answer: 'Water at the base, in the morning. [4]', sources, truncated: false },
      { embedder },
    );
    const uncited = await scoreAnswer(
      { answer: 'Water at the base, in the morning.', sources, truncated: false },
      { embedder },
    );
    expect(invalid.citation_validity).toBe(0);
    expect(uncited).toMatchObject({ citation_coverage: 0, citation_validity: 1 });
    expect(valid.score).toBeGreaterThan(invalid.score);
    expect(invalid.score).toBeCloseTo(uncited.score, 4);
  });

  it('embeds only the sentences in doubt (no quote, at most maxEmbedded), and sources only without their vectors', async () => {
    const stored = await withVectors([GARDEN, CAR]);
    // A quote, then two sentences whose words the notes only partly hold, then a third.
    const answer =
      'Water at the base, in the morning. Give the plants fish emulsion fortnightly. Seeds start indoors in spring. Rotate the tyres yearly.';
    calls.length = 0;
    const withStored = await scoreAnswer(
      { answer, sources: stored, truncated: false },
      { embedder },
      { ...SCORE_DEFAULTS, maxEmbedded: 2 },
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(2);
    expect(calls[0]).not.toContain('Water at the base, in the morning.');
    expect(withStored.sentences).toBe(4);
    calls.length = 0;
    await scoreAnswer(
      { answer, sources: stored, truncated: false },
      { embedder },
      { ...SCORE_DEFAULTS, maxEmbedded: 10 },
    );
    expect(calls[0]).toHaveLength(3);
    calls.length = 0;
    const without = await scoreAnswer(
      { answer, sources: [GARDEN, CAR], truncated: false },
      { embedder },
      { ...SCORE_DEFAULTS, maxEmbedded: 2 },
    );
    // The two sentences and both sources, in one inference.
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(4);
    expect(without.score).toBeCloseTo(withStored.score, 3);
    calls.length = 0;
    await scoreAnswer(
      { answer: 'Water at the base, in the morning.', sources: stored, truncated: false },
      { embedder },
    );
    expect(calls).toEqual([]);
  });

  it('gives no groundedness without sources (no_context) and discounts a truncated answer', async () => {
    const noContext = await scoreAnswer(
      { answer: 'Start seeds indoors around Mar 20.', sources: [], truncated: false },
      { embedder },
    );
    expect(noContext).toMatchObject({ score: 0, groundedness: 0, no_context: true });
    const sources = await withVectors([GARDEN]);
    const answer = 'Start seeds indoors under lights around Mar 20.';
    const whole = await scoreAnswer({ answer, sources, truncated: false }, { embedder });
    const cut = await scoreAnswer({ answer, sources, truncated: true }, { embedder });
    expect(cut.truncated).toBe(true);
    expect(cut.score).toBeCloseTo(whole.score * 0.9, 3);
    const empty = await scoreAnswer({ answer: '', sources, truncated: false }, { embedder });
    expect(empty).toMatchObject({ score: 0, sentences: 0 });
  });
});
