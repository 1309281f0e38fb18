import { describe, expect, it } from 'vitest';
import { countPromptTokens, planAnswer } from './answer.ts';

describe('planAnswer', () => {
  it('answers the last user message, first 60 chars, then filler up to answerTokens', () => {
    const long = 'word '.repeat(30);
    const plan = planAnswer(
      {
        messages: [
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: long },
        ],
      },
      20,
    );
    expect(plan.tokens).toHaveLength(20);
    expect(plan.tokens.join('')).toBe(
      `Fake answer to: ${'word '.repeat(12).trim()}. lorem ipsum dolor sit amet`,
    );
    expect(plan.finishReason).toBe('stop');
  });

  it('cuts the answer at max_completion_tokens or max_tokens with finish reason length', () => {
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    expect(planAnswer({ messages, max_tokens: 2 }, 10)).toMatchObject({
      tokens: ['Fake', ' answer'],
      finishReason: 'length',
    });
    expect(planAnswer({ messages, max_completion_tokens: 1, max_tokens: 5 }, 10).tokens).toEqual(['Fake']);
    expect(planAnswer({ messages, max_tokens: 10 }, 10).finishReason).toBe('stop');
  });

  it('answers a scripted text word for word instead of the echo, cut at max_tokens', () => {
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    expect(planAnswer({ messages }, 20, 'Paris is in France.').tokens).toEqual([
      'Paris',
      ' is',
      ' in',
      ' France.',
    ]);
    expect(planAnswer({ messages, max_tokens: 2 }, 20, 'Paris is in France.')).toMatchObject({
      tokens: ['Paris', ' is'],
      finishReason: 'length',
    });
  });

  it('reads text parts of array content', () => {
    const plan = planAnswer(
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'Parts work' }] }] },
      5,
    );
    expect(plan.tokens.join('')).toBe('Fake answer to: Parts work.');
  });
});

describe('countPromptTokens', () => {
  it('counts whitespace-separated words over every message', () => {
    expect(
      countPromptTokens({
        messages: [
          { role: 'system', content: 'You answer  briefly.' },
          { role: 'user', content: ' two words ' },
          { role: 'assistant', content: null },
        ],
      }),
    ).toBe(5);
  });
});
