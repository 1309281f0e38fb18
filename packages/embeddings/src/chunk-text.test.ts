import { beforeAll, describe, expect, it } from 'vitest';
import type { Chunk } from './chunk-text.ts';
import { chunkText } from './chunk-text.ts';
import { defaultModelDir } from './model-dir.ts';
import type { TextTokenizer } from './text-tokenizer.ts';
import { loadTextTokenizer } from './text-tokenizer.ts';

// Fake tokenizer: one token per word (whitespace-separated run).
function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** `n` numbered words ending in a period: a sentence of exactly n tokens under countWords. */
function sentence(id: string, n: number): string {
  return `${Array.from({ length: n - 1 }, (_, i) => `${id}w${i}`).join(' ')} ${id}end.`;
}

function expectWellFormed(text: string, chunks: Chunk[], maxTokens: number, count = countWords): void {
  chunks.forEach((chunk, index) => {
    expect(chunk.index).toBe(index);
    expect(chunk.text).toBe(text.slice(chunk.startChar, chunk.endChar));
    expect(chunk.text).toBe(chunk.text.trim());
    expect(chunk.tokenCount).toBe(count(chunk.text));
    expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
  });
  for (let i = 1; i < chunks.length; i++) {
    expect(chunks[i]!.startChar).toBeGreaterThan(chunks[i - 1]!.startChar);
    expect(chunks[i]!.endChar).toBeGreaterThan(chunks[i - 1]!.endChar);
    expect(chunks[i]!.startChar).toBeLessThanOrEqual(chunks[i - 1]!.endChar + 2); // no text skipped
  }
  expect(chunks[0]!.startChar).toBe(text.length - text.trimStart().length);
  expect(chunks.at(-1)!.endChar).toBe(text.trimEnd().length);
}

describe('chunkText', () => {
  it('returns no chunks for blank text', () => {
    expect(chunkText('', { maxTokens: 10 }, countWords)).toEqual([]);
    expect(chunkText(' \n\t ', { maxTokens: 10 }, countWords)).toEqual([]);
  });

  it('returns one trimmed chunk when the text fits', () => {
    expect(chunkText('  Hello there, world.  ', { maxTokens: 10 }, countWords)).toEqual([
      { index: 0, text: 'Hello there, world.', startChar: 2, endChar: 21, tokenCount: 3 },
    ]);
  });

  it('ends chunks at paragraph breaks when that keeps them at least half full', () => {
    const paragraphs = [
      `${sentence('a', 6)} ${sentence('b', 6)}`,
      `${sentence('c', 6)} ${sentence('d', 6)}`,
      `${sentence('e', 6)} ${sentence('f', 6)}`,
    ];
    const text = paragraphs.join('\n\n');
    // 20 tokens would fit a paragraph and a half; the paragraph break (12 tokens) wins.
    const chunks = chunkText(text, { maxTokens: 20 }, countWords);
    expect(chunks.map((c) => c.text)).toEqual(paragraphs);
    expectWellFormed(text, chunks, 20);
  });

  it('prefers a sentence end over filling the chunk mid-sentence', () => {
    const text = [sentence('a', 7), sentence('b', 7), sentence('c', 7)].join(' ');
    const chunks = chunkText(text, { maxTokens: 10 }, countWords);
    expect(chunks.map((c) => c.tokenCount)).toEqual([7, 7, 7]);
    expect(chunks.every((c) => c.text.endsWith('end.'))).toBe(true);
    expectWellFormed(text, chunks, 10);
  });

  it('fills to the limit rather than leaving a chunk under half full', () => {
    const text = `${sentence('a', 3)} ${sentence('b', 30)}`;
    const chunks = chunkText(text, { maxTokens: 10 }, countWords);
    expect(chunks[0]!.tokenCount).toBe(10);
    expectWellFormed(text, chunks, 10);
  });

  it('splits a giant sentence between words', () => {
    const text = sentence('x', 95);
    const chunks = chunkText(text, { maxTokens: 20 }, countWords);
    expect(chunks.map((c) => c.tokenCount)).toEqual([20, 20, 20, 20, 15]);
    expect(chunks.map((c) => c.text).join(' ')).toBe(text);
    expectWellFormed(text, chunks, 20);
  });

  it('splits a giant word between characters', () => {
    const countPieces = (t: string) =>
      t
        .split(/\s+/)
        .filter(Boolean)
        .reduce((sum, word) => sum + Math.ceil(word.length / 4), 0);
    const blob = 'Q'.repeat(100);
    const text = `before ${blob} after`;
    const chunks = chunkText(text, { maxTokens: 8 }, countPieces);
    expect(chunks.map((c) => c.tokenCount).every((n) => n <= 8)).toBe(true);
    expect(
      chunks
        .map((c) => c.text)
        .join('')
        .replace(/\s/g, ''),
    ).toBe(`before${blob}after`);
    expectWellFormed(text, chunks, 8, countPieces);
  });

  it('repeats up to overlapTokens of the previous chunk, starting at a sentence when it can', () => {
    const text = Array.from({ length: 12 }, (_, i) => sentence(`s${i}`, 4)).join(' ');
    const chunks = chunkText(text, { maxTokens: 16, overlapTokens: 5 }, countWords);
    expectWellFormed(text, chunks, 16);
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1]!;
      const current = chunks[i]!;
      const shared = text.slice(current.startChar, previous.endChar);
      expect(countWords(shared)).toBe(4); // one whole 4-word sentence: the 5-word word boundary loses
      expect(shared).toMatch(/^s\d+w0 .*end\.$/);
    }
  });

  it('overlaps by words when no sentence start keeps enough overlap', () => {
    const text = sentence('x', 60);
    const chunks = chunkText(text, { maxTokens: 20, overlapTokens: 5 }, countWords);
    expectWellFormed(text, chunks, 20);
    for (let i = 1; i < chunks.length; i++) {
      expect(countWords(text.slice(chunks[i]!.startChar, chunks[i - 1]!.endChar))).toBe(5);
    }
    expect(chunks.map((c) => c.tokenCount)).toEqual([20, 20, 20, 15]);
  });

  it('keeps the limit with a tokenizer that counts a text as more than its parts', () => {
    // Every 10 words cost one extra token, so summing per-sentence counts underestimates.
    const superAdditive = (t: string) => countWords(t) + Math.floor(countWords(t) / 10);
    const text = Array.from({ length: 30 }, (_, i) => sentence(`s${i}`, 3)).join(' ');
    const chunks = chunkText(text, { maxTokens: 20, overlapTokens: 4 }, superAdditive);
    expectWellFormed(text, chunks, 20, superAdditive);
  });

  it('detects sentences in CJK text written without spaces', () => {
    const text = '今天天气很好。我们去公园散步吧。公园里有很多人。';
    const perChar = (t: string) => t.replace(/\s/g, '').length;
    const chunks = chunkText(text, { maxTokens: 10 }, perChar);
    expect(chunks.map((c) => c.text)).toEqual(['今天天气很好。', '我们去公园散步吧。', '公园里有很多人。']);
  });

  it('takes maxTokens from a model-like counter and caps larger requests at its window', () => {
    const model = { countTokens: countWords, maxTextTokens: 5 };
    const text = sentence('a', 12);
    expect(chunkText(text, {}, model).map((c) => c.tokenCount)).toEqual([5, 5, 2]);
    expect(chunkText(text, { maxTokens: 50 }, model).map((c) => c.tokenCount)).toEqual([5, 5, 2]);
  });

  it('rejects impossible options', () => {
    expect(() => chunkText('a b', {}, countWords)).toThrow(RangeError);
    expect(() => chunkText('a b', { maxTokens: 0 }, countWords)).toThrow(RangeError);
    expect(() => chunkText('a b', { maxTokens: 4, overlapTokens: 4 }, countWords)).toThrow(RangeError);
    expect(() => chunkText('a b', { maxTokens: 4, overlapTokens: -1 }, countWords)).toThrow(RangeError);
  });

  describe('with the real word-piece tokenizer', () => {
    let tokenizer: TextTokenizer;
    beforeAll(async () => {
      tokenizer = await loadTextTokenizer(defaultModelDir(process.env));
    });

    it('makes chunks that fit the model window without truncation', () => {
      const paragraph = (i: number) =>
        `Section ${i}. Retrieval-augmented generation splits documents into passages. ` +
        'Each passage is embedded with a sentence-transformer and stored alongside its text. '.repeat(
          1 + (i % 4),
        ) +
        'Hyperparameters like chunk size, overlap (in word-pieces) and tokenization matter a great deal.';
      const text = Array.from({ length: 25 }, (_, i) => paragraph(i)).join('\n\n');
      const chunks = chunkText(text, { overlapTokens: 32 }, tokenizer);
      const count = (t: string) => tokenizer.countTokens(t);
      expect(chunks.length).toBeGreaterThan(3);
      expectWellFormed(text, chunks, tokenizer.maxTextTokens, count);
      for (const chunk of chunks) {
        // Special tokens added, nothing cut off: the chunk is exactly what the model sees.
        expect(tokenizer.encode(chunk.text)).toHaveLength(chunk.tokenCount + 2);
      }
      expect(chunks.slice(0, -1).every((c) => c.tokenCount > tokenizer.maxTextTokens / 2)).toBe(true);
    });
  });
});
