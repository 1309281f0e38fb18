import { describe, expect, it } from 'vitest';
import { normalizeQuery } from './normalize-query.ts';

describe('normalizeQuery', () => {
  it('folds case, collapses whitespace and strips trailing ?!.', () => {
    expect(normalizeQuery('  What is   my\tWIFI\npassword?!. ')).toBe('what is my wifi password');
  });

  it('applies NFKC so full-width and compatibility forms compare equal', () => {
    expect(normalizeQuery('ｗｈａｔ ｉｓ ﬁｌｅ？')).toBe('what is file');
    expect(normalizeQuery('café')).toBe(normalizeQuery('cafe\u0301'));
  });

  it('keeps inner punctuation and leading punctuation', () => {
    expect(normalizeQuery('Is it 3.5 or 4? Tell me.')).toBe('is it 3.5 or 4? tell me');
    expect(normalizeQuery('...why')).toBe('...why');
  });

  it('leaves nothing of a question made of punctuation', () => {
    expect(normalizeQuery(' ?! ')).toBe('');
  });
});
