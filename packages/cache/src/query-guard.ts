import { normalizeQuery } from './normalize-query.ts';

// Contractions whose stem changes; every other `n't` is stem + "not".
const IRREGULAR: Readonly<Record<string, string>> = {
  "can't": 'can not',
  cannot: 'can not',
  "won't": 'will not',
  "shan't": 'shall not',
  "ain't": 'is not',
  whats: 'what is',
  wheres: 'where is',
  whens: 'when is',
  whos: 'who is',
  hows: 'how is',
};
// `'s` means "is" only after these; elsewhere it is a possessive and stays.
const IS_BEFORE = new Set([
  'what',
  'where',
  'when',
  'who',
  'how',
  'why',
  'which',
  'it',
  'that',
  'there',
  'here',
]);
const SUFFIXES: readonly (readonly [string, string])[] = [
  ["n't", ' not'],
  ["'re", ' are'],
  ["'m", ' am'],
  ["'ve", ' have'],
  ["'ll", ' will'],
  ["'d", ' would'],
];
// Words a personal-notes question can drop without changing what it asks: "my wifi password"
// and "the wifi password" name the same note. Not "a": "what is a password" asks something else.
const DROPPED = new Set(['the', 'my']);

// Near-misses an embedding scores as paraphrases (measured with all-MiniLM-L6-v2: negation
// 0.96, another year 0.91), so these words must match exactly and in order.
const NEGATIONS = new Set([
  'not',
  'no',
  'never',
  'none',
  'nothing',
  'nobody',
  'nowhere',
  'neither',
  'nor',
  'without',
]);
const QUANTITIES = new Set(
  (
    'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen ' +
    'sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety ' +
    'hundred thousand million billion dozen half twice first second third fourth fifth sixth ' +
    'seventh eighth ninth tenth eleventh twelfth'
  ).split(' '),
);
const TIMES = new Set(
  (
    'january february march april may june july august september october november december ' +
    'monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday tonight ' +
    'morning afternoon evening night noon midnight weekend last next previous before after ago'
  ).split(' '),
);
// Capitalized but not names.
const NOT_NAMES = new Set(['i']);

const TOKEN = /\p{N}+(?:[.,:]\p{N}+)*|[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;
const NUMBER = /^\p{N}+(?:[.,:]\p{N}+)*$/u;

function tokens(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

function withPlainApostrophes(text: string): string {
  return text.normalize('NFKC').replace(/[\u2018\u2019\u02bc]/gu, "'");
}

/** Expands one lower-case token's contraction: "isn't" → ["is", "not"], "what's" → ["what", "is"]. */
function expand(word: string): string[] {
  const irregular = IRREGULAR[word];
  if (irregular !== undefined) return irregular.split(' ');
  if (word.endsWith("'s")) {
    const stem = word.slice(0, -2);
    return IS_BEFORE.has(stem) ? [stem, 'is'] : [word];
  }
  for (const [suffix, replacement] of SUFFIXES) {
    if (word.endsWith(suffix) && word.length > suffix.length) {
      return `${word.slice(0, -suffix.length)}${replacement}`.split(' ');
    }
  }
  return [word];
}

/**
 * The text to embed for the semantic cache: the normalized question with contractions expanded
 * and "the"/"my" dropped, so paraphrases that differ only there embed alike (measured: "what is my
 * wifi password" vs "what's the wifi password?" 0.92 as typed, 1.00 in this form). Store and look
 * up with vectors of this text, not of the raw question.
 *
 * @example
 * semanticQueryText("What's the Wi-Fi password?"); // 'what is wi-fi password'
 */
export function semanticQueryText(query: string): string {
  const words = normalizeQuery(withPlainApostrophes(query))
    .split(' ')
    .flatMap((word) => {
      // Keep inner punctuation such as "wi-fi" but expand contractions of the bare word.
      const bare = word.replace(/^[^\p{L}\p{N}']+|[^\p{L}\p{N}']+$/gu, '');
      return bare === '' ? [] : expand(bare);
    })
    .filter((word) => !DROPPED.has(word));
  return words.join(' ');
}

/** What must be equal, in order, for two questions to share a semantic-cache answer. */
export type QueryGuard = {
  /** Numbers (thousands commas removed) and words containing digits, as written. */
  numbers: string[];
  /** Negation words after expanding contractions. */
  negations: string[];
  /** Number words, ordinals, calendar and relative-time words. */
  quantitiesAndTimes: string[];
  /** Capitalized words not at a sentence start (likely names), lower-cased. */
  names: string[];
};

/**
 * Extracts the words cosine similarity cannot be trusted with: numbers, negations, quantity and
 * time words, and likely names. The semantic cache reuses an answer only when these match
 * exactly, in order ("is the meeting on monday" never matches "... not on monday"; "Anna owes
 * Maria" never matches "Maria owes Anna").
 */
export function queryGuard(query: string): QueryGuard {
  const text = withPlainApostrophes(query);
  const guard: QueryGuard = { numbers: [], negations: [], quantitiesAndTimes: [], names: [] };
  // All-caps text says nothing about names.
  const casing = /\p{Ll}/u.test(text);
  for (const sentence of text.split(/[.!?]+(?:\s+|$)/u)) {
    tokens(sentence).forEach((token, index) => {
      if (NUMBER.test(token)) {
        guard.numbers.push(token.replace(/,(?=\p{N}{3}(?:\D|$))/gu, ''));
        return;
      }
      // Versions and times written into a word ("v2", "3rd") are numbers too.
      if (/\p{N}/u.test(token)) guard.numbers.push(token.toLowerCase());
      const words = expand(token.toLowerCase());
      for (const word of words) {
        if (NEGATIONS.has(word)) guard.negations.push(word);
        else if (QUANTITIES.has(word) || TIMES.has(word)) guard.quantitiesAndTimes.push(word);
      }
      const base = token.split("'")[0] ?? token;
      const lower = base.toLowerCase();
      const nameLike = casing && index > 0 && /^\p{Lu}/u.test(base) && !NOT_NAMES.has(lower);
      if (nameLike && !QUANTITIES.has(lower) && !TIMES.has(lower)) guard.names.push(lower);
    });
  }
  return guard;
}
