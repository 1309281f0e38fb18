import { describe, expect, it } from 'vitest';
import { createTokenBatcher } from './token-batcher.ts';

/** A batcher over a recorded `send` and a manual timer. */
function setup(options = { maxDelayMs: 25, maxTokens: 4 }) {
  const sent: string[] = [];
  const timers: { run: () => void; ms: number; cleared: boolean }[] = [];
  const batcher = createTokenBatcher(
    {
      send: async (text) => {
        sent.push(text);
      },
      setTimer: (run, ms) => {
        const timer = { run, ms, cleared: false };
        timers.push(timer);
        return timer;
      },
      clearTimer: (timer) => {
        (timer as { cleared: boolean }).cleared = true;
      },
    },
    options,
  );
  const fire = () => {
    for (const timer of timers) if (!timer.cleared) timer.run();
  };
  return { batcher, sent, timers, fire };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createTokenBatcher', () => {
  it('sends the first token at once and joins the next ones until the delay passes', async () => {
    const { batcher, sent, timers, fire } = setup();
    batcher.push('The');
    await settle();
    expect(sent).toEqual(['The']);
    batcher.push(' roof');
    batcher.push(' is');
    await settle();
    expect(sent).toEqual(['The']);
    expect(timers.at(-1)?.ms).toBe(25);
    fire();
    await settle();
    expect(sent).toEqual(['The', ' roof is']);
  });

  it('sends a full batch without waiting for the timer', async () => {
    const { batcher, sent } = setup({ maxDelayMs: 1_000, maxTokens: 3 });
    for (const token of ['a', 'b', 'c', 'd']) batcher.push(token);
    await settle();
    expect(sent).toEqual(['a', 'bcd']);
  });

  it('flush sends what is held, in order, and keeps the concatenation equal to the tokens', async () => {
    const { batcher, sent } = setup({ maxDelayMs: 1_000, maxTokens: 2 });
    const tokens = ['x', 'y', 'z', 'w', 'v'];
    for (const token of tokens) batcher.push(token);
    await batcher.flush();
    expect(sent.join('')).toBe(tokens.join(''));
    expect(sent).toEqual(['x', 'yz', 'wv']);
  });

  it('sends the first token after a reset at once again', async () => {
    const { batcher, sent } = setup({ maxDelayMs: 1_000, maxTokens: 10 });
    batcher.push('first');
    batcher.push(' held');
    await batcher.flush();
    batcher.reset();
    batcher.push('again');
    await settle();
    expect(sent).toEqual(['first', ' held', 'again']);
  });

  it('never overlaps two sends, and a failed send fails the flush and every later send', async () => {
    let active = 0;
    let maxActive = 0;
    const sent: string[] = [];
    const batcher = createTokenBatcher(
      {
        send: async (text) => {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((resolve) => setTimeout(resolve, 5));
          active--;
          if (text === 'bad') throw new Error('refused');
          sent.push(text);
        },
      },
      { maxDelayMs: 0, maxTokens: 1 },
    );
    for (const token of ['a', 'b', 'bad', 'c']) batcher.push(token);
    await expect(batcher.flush()).rejects.toThrow('refused');
    expect(maxActive).toBe(1);
    expect(sent).toEqual(['a', 'b']);
  });
});
