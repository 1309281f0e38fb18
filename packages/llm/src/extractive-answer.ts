import type { SourceText } from './llm-provider.ts';

/** Said when retrieval found nothing to quote. */
export const NO_SOURCES_ANSWER = "I couldn't find anything in your notes about that.";

/** Said when the retrieved notes share no word with the question: nothing is quoted as an answer. */
export const NO_MATCHING_SENTENCE_ANSWER =
  'Your notes listed as sources look related, but none of their sentences answers this directly.';

const STOPWORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our so than that the their them then there these they this to was we were what ' +
    'when where which who why will with would you your about any all some just also'
  ).split(' '),
);

/** Options of the extractive answerer. */
export type ExtractiveOptions = {
  /** Sentences quoted at most. @defaultValue 3 */
  maxSentences?: number;
};

type Sentence = { text: string; source: number; position: number; score: number };

/**
 * Lowercased content words of a text, stopwords dropped and English plurals trimmed, so
 * "Tomatoes" in a note meets "tomato" in a question.
 */
export function contentTerms(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 1 && !STOPWORDS.has(word))
    .map(singular);
}

/** A crude singular: enough for matching, since query and notes go through the same rule. */
function singular(word: string): string {
  if (word.length <= 3 || word.endsWith('ss')) return word;
  if (word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (/(?:oes|ches|shes|xes)$/.test(word)) return word.slice(0, -2);
  return word.endsWith('s') ? word.slice(0, -1) : word;
}

/** Splits a note chunk into sentences at `.`, `!`, `?` followed by space, and at line breaks. */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0);
}

/**
 * Answers from the notes alone: the sentences sharing the most distinct content words with
 * the query, in reading order (source, then position), each cited `[n]` by source order.
 * When no sentence shares a word, nothing is quoted (an unrelated sentence is not an answer):
 * `NO_MATCHING_SENTENCE_ANSWER`. No sources: `NO_SOURCES_ANSWER`.
 *
 * @example
 * buildExtractiveAnswer('When do I water tomatoes?', [{ noteId: 'n1', title: 'Garden',
 *   text: 'Water tomatoes at dawn. Basil likes shade.', score: 0.9 }])
 * // 'From your notes: Water tomatoes at dawn. [1]'
 */
export function buildExtractiveAnswer(
  query: string,
  sources: SourceText[],
  options: ExtractiveOptions = {},
): string {
  if (sources.length === 0) return NO_SOURCES_ANSWER;
  const maxSentences = options.maxSentences ?? 3;
  const queryTerms = new Set(contentTerms(query));
  const sentences: Sentence[] = sources.flatMap((source, sourceIndex) =>
    splitSentences(source.text).map((text, position) => ({
      text,
      source: sourceIndex,
      position,
      score: new Set(contentTerms(text).filter((term) => queryTerms.has(term))).size,
    })),
  );
  if (sentences.length === 0) return NO_SOURCES_ANSWER;

  const matching = sentences.filter((sentence) => sentence.score > 0);
  if (matching.length === 0) return NO_MATCHING_SENTENCE_ANSWER;
  const picked = matching
    .sort((a, b) => b.score - a.score || a.source - b.source || a.position - b.position)
    .slice(0, maxSentences)
    .sort((a, b) => a.source - b.source || a.position - b.position);
  return `From your notes: ${picked.map((sentence) => `${sentence.text} [${sentence.source + 1}]`).join(' ')}`;
}
