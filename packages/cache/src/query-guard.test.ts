import { describe, expect, it } from 'vitest';
import { queryGuard, semanticQueryText } from './query-guard.ts';

describe('semanticQueryText', () => {
  it('expands contractions and drops "the" and "my"', () => {
    expect(semanticQueryText("What's the wifi password?")).toBe('what is wifi password');
    expect(semanticQueryText('what is my wifi password')).toBe('what is wifi password');
    expect(semanticQueryText('Isn’t the meeting on Monday?')).toBe('is not meeting on monday');
    expect(semanticQueryText("I can't find my keys, where're they")).toBe(
      'i can not find keys where are they',
    );
  });

  it('keeps possessives, "a" and inner punctuation', () => {
    expect(semanticQueryText("when is Anna's birthday")).toBe("when is anna's birthday");
    expect(semanticQueryText('what is a password')).toBe('what is a password');
    expect(semanticQueryText('my Wi-Fi code')).toBe('wi-fi code');
  });
});

describe('queryGuard', () => {
  const same = (a: string, b: string) => expect(queryGuard(a)).toEqual(queryGuard(b));
  const differ = (a: string, b: string) => expect(queryGuard(a)).not.toEqual(queryGuard(b));

  it('matches paraphrases that keep numbers, negations, times and names', () => {
    same('what is my wifi password', "What's the wifi password?");
    same('how much did I spend in 2,000 days', 'how much have I spent in 2000 days');
    same("isn't Anna coming on Monday", 'is Anna not coming on monday?');
  });

  it('separates a question from its negation', () => {
    differ('is the meeting on monday', 'is the meeting not on monday');
    differ('is the meeting on monday', "isn't the meeting on monday");
    differ('did I pay rent', 'did I never pay rent');
  });

  it('separates other numbers, number words and times', () => {
    differ('what did I spend in 2023', 'what did I spend in 2024');
    differ('notes from v2', 'notes from v3');
    differ('the second meeting', 'the third meeting');
    differ('what is on tomorrow', 'what is on today');
    differ('what did I do before the trip', 'what did I do after the trip');
  });

  it('separates other names and swapped names, when they are capitalized', () => {
    differ("when is Anna's birthday", "when is Maria's birthday");
    differ('does Anna owe Maria money', 'does Maria owe Anna money');
    expect(queryGuard("When is Anna's birthday? Tom said June, Anna's Mum May.").names).toEqual([
      'anna',
      'anna',
      'mum',
    ]);
  });

  it('does not take sentence starts, "I" or all-caps text for names', () => {
    same('When did I call', 'when did I call');
    same('WHAT IS MY WIFI PASSWORD', 'what is my wifi password');
  });
});
