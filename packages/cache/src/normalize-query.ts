// Trailing question marks, exclamation marks and full stops, with any whitespace among them.
const TRAILING_PUNCTUATION = /[\s?!.]+$/u;

/**
 * The form of a question the exact answer cache compares: Unicode NFKC (so full-width and
 * compatibility characters fold), lower case, runs of whitespace collapsed to one space, trimmed,
 * and trailing `?`, `!` and `.` removed.
 *
 * @example
 * normalizeQuery('  What is my  Wi\u2011Fi password?? '); // 'what is my wi‑fi password'
 */
export function normalizeQuery(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim().replace(TRAILING_PUNCTUATION, '');
}
