import { describe, expect, it } from 'vitest';
import { buildLexicalIndex } from './lexical-index.ts';

const options = { identifierBoost: 2, fuzzyWeight: 0.8 };
const index = buildLexicalIndex([
  'Kyoto trip - April 2023\nHotel Granvia, confirmation K7Q2ZP. JR Pass bought.',
  'Kyoto again - November 2025\nAce Hotel, booking ref AH-55190. Bikes rented.',
  'Dentist - crown\nDr. Okafor, crown on the lower molar, next cleaning Sept 12.',
  'Home wifi\nPassword basil-rocket-92. Router admin page at 192.168.1.1.',
]);

function best(query: string): number {
  const { matches } = index.search(query, options);
  return [...matches.entries()].sort((a, b) => b[1].score - a[1].score)[0]![0];
}

describe('buildLexicalIndex', () => {
  it('matches any word (OR semantics), the rare ones weighing most', () => {
    // "trip" is absent from the second note, "who" is a stop word: neither hides the match.
    expect(best('who is Okafor for the trip')).toBe(2);
    expect(best('which hotel had the bikes')).toBe(1);
  });

  it('finds a booking reference written with or without its dash', () => {
    expect(best('AH-55190')).toBe(1);
    expect(best('ah55190')).toBe(1);
    expect(index.search('AH-55190', options).matches.get(1)?.identifier).toBe(true);
  });

  it('tolerates one typo in a word the notes hold', () => {
    expect(best('kyotto granvai')).toBe(0);
    expect(best('dentst')).toBe(2);
  });

  it('flags rows that name another year or month than the question', () => {
    const { conflict } = index.search('Kyoto hotel in 2025', options);
    expect(conflict(0)).toBe(true);
    expect(conflict(1)).toBe(false);
    // A row naming no year at all does not contradict.
    expect(conflict(3)).toBe(false);
    expect(index.search('Kyoto in April', options).conflict(1)).toBe(true);
  });

  it('measures how much of the question a row covers, and names it does not hold', () => {
    const { matches, evidence } = index.search("What is the wifi password at Mom's house?", options);
    expect(matches.get(3)?.coverage).toBeGreaterThan(0);
    expect(matches.get(3)?.coverage).toBeLessThan(0.6);
    expect(evidence(3).unseenName).toBe(true);
    expect(index.search("What is Okafor's number?", options).evidence(0).missingName).toBe(true);
  });
});
