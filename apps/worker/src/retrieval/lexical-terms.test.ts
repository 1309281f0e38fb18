import { describe, expect, it } from 'vitest';
import { detailKind, editDistance, isIdentifier, lexicalTerms } from './lexical-terms.ts';

describe('lexicalTerms', () => {
  it('drops stop and question words, folds accents and trims plurals and possessives', () => {
    expect(lexicalTerms("Where is Dan's passport? Gràcia and tomatoes")).toEqual([
      'dan',
      'passport',
      'gracia',
      'tomato',
    ]);
  });

  it('keeps a code whole (without separators) beside its parts', () => {
    expect(lexicalTerms('ref AH-55190')).toEqual(['ref', 'ah55190', 'ah', '55190']);
    expect(lexicalTerms('0-2931-8841')).toEqual(['029318841', '2931', '8841']);
    expect(lexicalTerms('Wi-Fi')).toEqual(['wifi']);
  });

  it('spells month abbreviations out', () => {
    expect(lexicalTerms('Apr 2 and Sept 12')).toEqual(['april', 'september', '12']);
  });
});

describe('isIdentifier and detailKind', () => {
  it('tell codes, years and months apart from words', () => {
    expect(isIdentifier('pk339201')).toBe(true);
    expect(isIdentifier('kyoto')).toBe(false);
    expect(detailKind('2023')).toBe('year');
    expect(detailKind('november')).toBe('month');
    expect(detailKind('12')).toBeUndefined();
  });
});

describe('editDistance', () => {
  it('counts one edit or one swap of neighbours as 1, and stops past the bound', () => {
    expect(editDistance('kyotto', 'kyoto', 1)).toBe(1);
    expect(editDistance('acadai', 'acadia', 1)).toBe(1);
    expect(editDistance('hetzer', 'hetzner', 1)).toBe(1);
    expect(editDistance('pizza', 'pasta', 1)).toBe(2);
    expect(editDistance('a', 'abcdef', 2)).toBe(3);
  });
});
