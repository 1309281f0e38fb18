import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDir } from './model-dir.ts';
import type { TextTokenizer } from './text-tokenizer.ts';
import { loadTextTokenizer } from './text-tokenizer.ts';

let tokenizer: TextTokenizer;

beforeAll(async () => {
  tokenizer = await loadTextTokenizer(defaultModelDir(process.env));
});

describe('TextTokenizer (all-MiniLM-L6-v2 word pieces)', () => {
  it('wraps text in [CLS] … [SEP] and pads with [PAD]', () => {
    expect(tokenizer.encode('hello world')).toEqual([101, 7592, 2088, 102]);
    expect(tokenizer.padTokenId).toBe(0);
    expect(tokenizer.maxTokens).toBe(256);
    expect(tokenizer.maxTextTokens).toBe(254);
  });

  it('counts word pieces without special tokens', () => {
    expect(tokenizer.countTokens('hello world')).toBe(2);
    expect(tokenizer.tokenize('Naïve café').tokens).toEqual(['naive', 'cafe']);
  });

  it('truncates long text to the window with [SEP] still last', () => {
    const ids = tokenizer.encode('alpha beta gamma '.repeat(500));
    expect(ids).toHaveLength(256);
    expect(ids[0]).toBe(101);
    expect(ids.at(-1)).toBe(102);
  });

  it('encodes a long text through a prefix exactly as the whole text would be', () => {
    const mixed =
      'Ünïcödé naïveté, e-mail addresses (ops@example.com) and 東京 mixed in; ' +
      'supercalifragilisticexpialidocious tokens split into many pieces!\n';
    for (const text of [
      mixed.repeat(300),
      `${'x'.repeat(5000)} ${mixed.repeat(50)}`,
      '東京タワー'.repeat(2000),
    ]) {
      const whole = [101, ...tokenizer.tokenize(text).ids.slice(0, 254), 102];
      expect(tokenizer.encode(text)).toEqual(whole);
    }
  });

  it('encodes a megabyte of text far faster than tokenizing it whole', () => {
    const huge = 'lorem ipsum dolor sit amet '.repeat(40_000);
    let started = performance.now();
    const total = tokenizer.countTokens(huge); // the whole text, for comparison
    const wholeMs = performance.now() - started;
    started = performance.now();
    expect(tokenizer.encode(huge)).toHaveLength(256);
    const encodeMs = performance.now() - started;
    expect(total).toBeGreaterThan(100_000);
    // A ratio, not a wall-clock limit, so a busy machine slows both sides alike (~100x when idle).
    expect(encodeMs).toBeLessThan(wholeMs / 10);
  });

  it('truncates text to a word-piece budget at a word end', () => {
    const text = 'Tokenization is unbelievable, honestly.';
    expect(tokenizer.truncateToTokens(text, 3)).toBe('Tokenization is');
    expect(tokenizer.truncateToTokens(text, 100)).toBe(text);
  });
});
