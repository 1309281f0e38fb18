import { describe, expect, it } from 'vitest';
import {
  buildExtractiveAnswer,
  contentTerms,
  NO_MATCHING_SENTENCE_ANSWER,
  NO_SOURCES_ANSWER,
  splitSentences,
} from './extractive-answer.ts';
import type { SourceText } from './llm-provider.ts';

const source = (text: string, noteId = 'n'): SourceText => ({ noteId, title: noteId, text, score: 0.8 });

describe('contentTerms', () => {
  it('lowercases, drops stopwords and trims plurals', () => {
    expect(contentTerms('What did I write about the Tomatoes and berries, in 2024?')).toEqual([
      'write',
      'tomato',
      'berry',
      '2024',
    ]);
  });
});

describe('splitSentences', () => {
  it('splits at sentence ends and line breaks', () => {
    expect(splitSentences('One. Two? Three!\nFour\n\n  Five.')).toEqual([
      'One.',
      'Two?',
      'Three!',
      'Four',
      'Five.',
    ]);
  });
});

describe('buildExtractiveAnswer', () => {
  it('says plainly that nothing was found when there are no sources', () => {
    expect(buildExtractiveAnswer('anything?', [])).toBe(NO_SOURCES_ANSWER);
    expect(buildExtractiveAnswer('anything?', [source('   ')])).toBe(NO_SOURCES_ANSWER);
  });

  it('quotes the overlapping sentences in reading order, cited by source order', () => {
    const answer = buildExtractiveAnswer('When should I water the tomatoes and feed them?', [
      source('Basil likes shade. Feed tomatoes every two weeks.', 'a'),
      source('The shed key is under the pot.', 'b'),
      source('Water tomato plants at dawn. Never water at noon.', 'c'),
    ]);
    expect(answer).toBe(
      'From your notes: Feed tomatoes every two weeks. [1] Water tomato plants at dawn. [3] Never water at noon. [3]',
    );
  });

  it('keeps the best-scoring sentences when more than maxSentences match', () => {
    const answer = buildExtractiveAnswer(
      'tomato water dawn',
      [source('Tomato. Tomato water. Tomato water dawn. Water.')],
      { maxSentences: 2 },
    );
    expect(answer).toBe('From your notes: Tomato water. [1] Tomato water dawn. [1]');
  });

  it('quotes no unrelated sentence when no word overlaps', () => {
    expect(buildExtractiveAnswer('cost of heating?', [source('Gas bill rose in May. It was cold.')])).toBe(
      NO_MATCHING_SENTENCE_ANSWER,
    );
  });
});
