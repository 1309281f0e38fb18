import type { CountTokens } from './token-prefix.ts';
import { prefixEndWithinTokens } from './token-prefix.ts';

/** A slice of the source text small enough for one inference. */
export type Chunk = {
  /** Position in the returned list, from 0. */
  index: number;
  /** Exactly `source.slice(startChar, endChar)`. */
  text: string;
  startChar: number;
  endChar: number;
  /** Word pieces of `text`, special tokens excluded. */
  tokenCount: number;
};

/** Tunables of {@link chunkText}. */
export type ChunkTextOptions = {
  /** Most word pieces per chunk, special tokens excluded. @defaultValue the counter's `maxTextTokens` */
  maxTokens?: number;
  /** Word pieces a chunk repeats from the end of the previous one. @defaultValue 0 */
  overlapTokens?: number;
};

/** A token-counting function, or a model/tokenizer (whose window then caps `maxTokens`). */
export type TokenCounter =
  | CountTokens
  | { countTokens(text: string): number; readonly maxTextTokens?: number };

// Strength of the break before a word; a chunk ends at the strongest break it can reach.
const PIECE = 0; // inside a word too long for one chunk
const WORD = 1;
const LINE = 2;
const SENTENCE = 3;
const PARAGRAPH = 4;

// A chunk may end early at a stronger break, but not below this share of its budget.
const MIN_FILL = 0.5;

const WORD_PATTERN = /[^\s。！？]+[。！？]*|[。！？]+/gu;
const SENTENCE_END = /[.!?…。！？]["'”’)\]]*$/u;
const BLANK_LINE = /\n[^\S\n]*\n/;

/** A start position a chunk or an overlap may begin at, with the strength of its break. */
type Boundary = { start: number; level: number };
type Word = Boundary & { end: number };
/** Smallest unit a chunk is built from: a sentence or line, or a word or word piece of a giant one. */
type Atom = Word & { tokens: number };

/**
 * Splits `text` into chunks of at most `maxTokens` word pieces, consecutive chunks sharing about
 * `overlapTokens` of text. Chunks end preferably at a paragraph, else a sentence, else a line
 * break, as long as they stay at least half full; giant sentences split between words, giant
 * words between characters. Every chunk is re-counted, so the limit holds even when a tokenizer
 * does not count a text as the sum of its parts. Blank text yields no chunks.
 *
 * @example
 * const chunks = chunkText(document, { overlapTokens: 32 }, model); // model.maxTextTokens per chunk
 */
export function chunkText(text: string, options: ChunkTextOptions, counter: TokenCounter): Chunk[] {
  const countTokens = typeof counter === 'function' ? counter : (t: string) => counter.countTokens(t);
  const windowLimit = typeof counter === 'function' ? undefined : counter.maxTextTokens;
  const requested = options.maxTokens ?? windowLimit;
  if (requested === undefined)
    throw new RangeError('chunkText needs maxTokens or a counter with maxTextTokens');
  const budget = Math.min(requested, windowLimit ?? requested);
  const overlapTokens = options.overlapTokens ?? 0;
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`maxTokens must be >= 1, got ${budget}`);
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= budget) {
    throw new RangeError(
      `overlapTokens must be from 0 to maxTokens - 1 (${budget - 1}), got ${overlapTokens}`,
    );
  }

  const words = scanWords(text);
  const atoms = buildAtoms(text, words, budget, countTokens);
  const boundaries = [...words, ...atoms.filter((atom) => atom.level === PIECE)].sort(
    (a, b) => a.start - b.start,
  );
  const count = (start: number, end: number) => countTokens(text.slice(start, end));
  const chunks: Chunk[] = [];

  let next = 0; // first atom not yet in any chunk
  let start = atoms[0]?.start ?? 0; // where the coming chunk starts (earlier than atoms[next] when overlapping)
  let carried = 0; // tokens of the overlap text between start and atoms[next]
  while (next < atoms.length) {
    let end = next;
    let filled = carried;
    while (end < atoms.length && filled + atoms[end]!.tokens <= budget) filled += atoms[end++]!.tokens;
    if (end === next) filled += atoms[end++]!.tokens; // a single character over budget still moves on
    let cut = end === atoms.length ? end : chooseCut(atoms, next, end, filled, budget);

    let tokenCount = count(start, atoms[cut - 1]!.end);
    while (tokenCount > budget) {
      if (cut - 1 > next) cut -= 1;
      else if (start < atoms[next]!.start) start = atoms[next]!.start;
      else break; // a lone atom is over budget only if one character is
      tokenCount = count(start, atoms[cut - 1]!.end);
    }
    const endChar = atoms[cut - 1]!.end;
    chunks.push({
      index: chunks.length,
      text: text.slice(start, endChar),
      startChar: start,
      endChar,
      tokenCount,
    });
    if (cut === atoms.length) break;

    next = cut;
    const room = Math.min(overlapTokens, budget - atoms[next]!.tokens);
    const overlap = room > 0 ? overlapStart(boundaries, start, endChar, room, count) : undefined;
    start = overlap ?? atoms[next]!.start;
    carried = overlap === undefined ? 0 : count(overlap, endChar);
  }
  return chunks;
}

/** Words (whitespace-separated runs; CJK sentence marks also end one) with the break before each. */
function scanWords(text: string): Word[] {
  const words: Word[] = [];
  let previous: Word | undefined;
  for (const match of text.matchAll(WORD_PATTERN)) {
    const start = match.index;
    const end = start + match[0].length;
    let level = PARAGRAPH;
    if (previous !== undefined) {
      const gap = text.slice(previous.end, start);
      if (BLANK_LINE.test(gap)) level = PARAGRAPH;
      else if (SENTENCE_END.test(text.slice(previous.start, previous.end))) level = SENTENCE;
      else if (gap.includes('\n')) level = LINE;
      else level = WORD;
    }
    previous = { start, end, level };
    words.push(previous);
  }
  return words;
}

/** Sentences and lines that fit the budget whole; words, or pieces of words, of those that do not. */
function buildAtoms(text: string, words: Word[], budget: number, countTokens: CountTokens): Atom[] {
  const atoms: Atom[] = [];
  let first = 0;
  while (first < words.length) {
    let last = first;
    while (last + 1 < words.length && words[last + 1]!.level === WORD) last++;
    const segment = { start: words[first]!.start, end: words[last]!.end, level: words[first]!.level };
    const tokens = countTokens(text.slice(segment.start, segment.end));
    if (tokens <= budget) atoms.push({ ...segment, tokens });
    else for (let i = first; i <= last; i++) atoms.push(...splitWord(text, words[i]!, budget, countTokens));
    first = last + 1;
  }
  return atoms;
}

function splitWord(text: string, word: Word, budget: number, countTokens: CountTokens): Atom[] {
  const tokens = countTokens(text.slice(word.start, word.end));
  if (tokens <= budget) return [{ ...word, tokens }];
  const pieces: Atom[] = [];
  for (let start = word.start; start < word.end; ) {
    let end = start + prefixEndWithinTokens(text.slice(start, word.end), budget, countTokens);
    if (end === start) end = start + (text.codePointAt(start)! > 0xffff ? 2 : 1); // one character over budget
    const level = start === word.start ? word.level : PIECE;
    pieces.push({ start, end, level, tokens: countTokens(text.slice(start, end)) });
    start = end;
  }
  return pieces;
}

/**
 * Index of the first atom of the next chunk, in (next, end]: the strongest break among those that
 * leave this chunk at least MIN_FILL full, the latest on ties; `end` (as full as possible) if none.
 */
function chooseCut(atoms: Atom[], next: number, end: number, filled: number, budget: number): number {
  let best = end;
  let fill = filled;
  for (let cut = end - 1; cut > next; cut--) {
    fill -= atoms[cut]!.tokens;
    if (fill < budget * MIN_FILL) break;
    if (atoms[cut]!.level > atoms[best]!.level) best = cut;
  }
  return best;
}

/**
 * Start of the overlap the next chunk repeats: the earliest boundary inside the finished chunk
 * whose suffix holds at most `room` tokens, moved up to a sentence start when that keeps at
 * least MIN_FILL of the room. Undefined when not even the last word fits.
 */
function overlapStart(
  boundaries: Boundary[],
  chunkStart: number,
  chunkEnd: number,
  room: number,
  count: (start: number, end: number) => number,
): number | undefined {
  const candidates = firstIndexAfter(boundaries, chunkEnd - 1); // boundaries before chunkEnd
  let low = firstIndexAfter(boundaries, chunkStart);
  let high = candidates;
  // Suffixes shrink as their start moves right, so "fits" flips once: bisect for the flip.
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (count(boundaries[middle]!.start, chunkEnd) <= room) high = middle;
    else low = middle + 1;
  }
  if (low === candidates) return undefined;
  const earliest = boundaries[low]!;
  if (earliest.level >= SENTENCE) return earliest.start;
  const sentence = boundaries.slice(low + 1, candidates).find((boundary) => boundary.level >= SENTENCE);
  if (sentence !== undefined && count(sentence.start, chunkEnd) >= room * MIN_FILL) return sentence.start;
  return earliest.start;
}

/** Index of the first boundary starting after `position` (boundaries are sorted by start). */
function firstIndexAfter(boundaries: Boundary[], position: number): number {
  let low = 0;
  let high = boundaries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (boundaries[middle]!.start <= position) low = middle + 1;
    else high = middle;
  }
  return low;
}
