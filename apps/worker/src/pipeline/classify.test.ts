import { describe, expect, it } from 'vitest';
import { CLASSIFIER_DEFAULTS, centroidLean, classifyQuery } from './classify.ts';

const classify = (query: string, noteIds: string[] = ['n1'], options = CLASSIFIER_DEFAULTS) =>
  classifyQuery({ query, sources: noteIds.map((noteId) => ({ noteId })) }, options);

describe('classifyQuery', () => {
  it('calls a short lookup simple, with no reasons', () => {
    expect(classify('When is my dentist appointment?')).toEqual({
      class: 'simple',
      reasons: [],
      words: 5,
      notes: 1,
    });
    expect(classify('wifi password').class).toBe('simple');
  });

  it('keeps a bare why or how simple: one sentence of one note answers it', () => {
    expect(classify('Why did I turn down the staff engineer offer?').class).toBe('simple');
    expect(classify('How long does the lasagna bake?').class).toBe('simple');
    expect(classify('phone plan renewal').class).toBe('simple');
  });

  it('calls comparisons, summaries, explanations, advice and plans complex, naming the cue', () => {
    expect(classify('Compare the two job offers').reasons).toEqual(['cue:compare']);
    expect(classify('Summarize my Kyoto trips').reasons).toEqual(['cue:summary']);
    expect(classify('Explain what went wrong in the outage').reasons).toEqual(['cue:explain']);
    expect(classify('Should I take the Fabrikam offer?').reasons).toEqual(['cue:advice']);
    expect(classify('Plan a weekend menu from my recipes').reasons).toEqual(['cue:plan']);
    expect(classify('Which bills do we pay across all the accounts?').class).toBe('complex');
  });

  it('calls a question that asks two things at once complex', () => {
    expect(classify('When is the wedding? Where is the hotel?').reasons).toEqual(['parts:2']);
    expect(classify('When is the wedding, and what is the dress code?').reasons).toEqual(['parts:2']);
  });

  it('calls a long question complex at the word threshold', () => {
    const long = `${'word '.repeat(CLASSIFIER_DEFAULTS.complexMinWords - 1)}end`;
    expect(classify(long).reasons).toEqual([`words:${CLASSIFIER_DEFAULTS.complexMinWords}`]);
    expect(classify('word '.repeat(CLASSIFIER_DEFAULTS.complexMinWords - 1)).class).toBe('simple');
  });

  it('counts the distinct notes retrieved, and calls a spread complex only when that rule is on', () => {
    const spread = ['a', 'a', 'b', 'c'];
    expect(classify('rent', spread)).toMatchObject({ class: 'simple', notes: 3 });
    expect(classify('rent', spread, { ...CLASSIFIER_DEFAULTS, complexMinNotes: 3 }).reasons).toEqual([
      'notes:3',
    ]);
  });
});

describe('the centroid rule', () => {
  const centroids = { simple: Float32Array.from([1, 0]), complex: Float32Array.from([0, 1]), margin: 0.1 };
  const options = { ...CLASSIFIER_DEFAULTS, centroids };
  const at = (x: number, y: number) => {
    const n = Math.hypot(x, y);
    return Float32Array.from([x / n, y / n]);
  };

  it('calls a question complex when its vector leans to the complex centroid by more than the margin', () => {
    const lean = classifyQuery({ query: 'rent', sources: [], vector: at(0.2, 1) }, options);
    expect(lean.class).toBe('complex');
    expect(lean.reasons).toEqual([`centroid:${(at(0.2, 1)[1]! - at(0.2, 1)[0]!).toFixed(3)}`]);
    expect(centroidLean(at(1, 1), centroids)).toBeCloseTo(0);
  });

  it('leaves it simple within the margin, without a vector, or with the rule off', () => {
    expect(classifyQuery({ query: 'rent', sources: [], vector: at(1, 1.1) }, options).class).toBe('simple');
    expect(classifyQuery({ query: 'rent', sources: [] }, options).class).toBe('simple');
    expect(classifyQuery({ query: 'rent', sources: [], vector: at(0, 1) }, CLASSIFIER_DEFAULTS).class).toBe(
      'simple',
    );
  });
});
