import { describe, expect, it } from 'vitest';
import { classifyQuery } from './classify.ts';

describe('classifyQuery', () => {
  it('tells questions, instructions and chitchat apart', () => {
    expect(classifyQuery('When is my dentist appointment?').kind).toBe('question');
    expect(classifyQuery('what is the wifi password').kind).toBe('question');
    expect(classifyQuery('List my notes about Rome').kind).toBe('instruction');
    expect(classifyQuery('thanks!').kind).toBe('chitchat');
  });

  it('marks long or analytical asks as complex', () => {
    expect(classifyQuery('Who is Ana?').complexity).toBe('simple');
    expect(classifyQuery('Compare the two job offers I wrote down').complexity).toBe('complex');
    expect(classifyQuery(`${'word '.repeat(30)}?`).complexity).toBe('complex');
  });
});
