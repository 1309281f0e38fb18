import { DEFAULT_PROMPT, promptTemplate } from '@assistant/config';
import { describe, expect, it } from 'vitest';
import { buildContext, type Excerpts } from './build-context.ts';

/** A stand-in tokenizer for these tests: words and punctuation marks. */
function estimateTokens(text: string): number {
  return text.match(/\w+|[^\s\w]/g)?.length ?? 0;
}

const source = (n: number, words: number) => ({
  noteId: `n${n}`,
  title: `Note ${n}`,
  text: Array.from({ length: words }, (_, i) => `w${i}`).join(' '),
  score: 1 - n / 10,
});

describe('buildContext', () => {
  const query = 'What is in my notes?';
  const prompt = promptTemplate(DEFAULT_PROMPT)!;

  it('numbers sources as cited and puts the question last', () => {
    const ctx = buildContext(
      { query, sources: [source(1, 5), source(2, 5)], prompt },
      { maxContextTokens: 1000, countTokens: estimateTokens },
    );
    expect(ctx.sources.map((s) => s.noteId)).toEqual(['n1', 'n2']);
    const user = ctx.messages[1]!.content;
    expect(user).toContain('[1] Note 1');
    expect(user).toContain('[2] Note 2');
    expect(user.endsWith(`Question: ${query}`)).toBe(true);
  });

  it('stops at the token budget, keeping the best sources', () => {
    const ctx = buildContext(
      { query, sources: [source(1, 50), source(2, 50), source(3, 50)], prompt },
      { maxContextTokens: 120, countTokens: estimateTokens },
    );
    expect(ctx.sources.map((s) => s.noteId)).toEqual(['n1', 'n2']);
    expect(ctx.contextTokens).toBeLessThanOrEqual(120);
  });

  it('says so when no note is relevant', () => {
    const ctx = buildContext(
      { query, sources: [], prompt },
      { maxContextTokens: 100, countTokens: estimateTokens },
    );
    expect(ctx.messages[1]!.content).toContain('(no relevant notes found)');
    expect(ctx.sources).toEqual([]);
  });

  it('reuses a cached excerpt block instead of counting tokens again', () => {
    const store = new Map<string, Excerpts>();
    let counted = 0;
    const countTokens = (text: string) => {
      counted += 1;
      return estimateTokens(text);
    };
    const excerpts = {
      key: 'k1',
      get: (k: string) => store.get(k),
      set: (k: string, v: Excerpts) => store.set(k, v),
    };
    const first = buildContext(
      { query, sources: [source(1, 5)], prompt },
      { maxContextTokens: 100, countTokens, excerpts },
    );
    const before = counted;
    const second = buildContext(
      { query: 'another question', sources: [source(1, 5)], prompt },
      { maxContextTokens: 100, countTokens, excerpts },
    );
    expect(counted).toBe(before);
    expect(second.sources).toEqual(first.sources);
    expect(second.messages[1]!.content).toMatch(/Question: another question$/);
  });

  it('builds the messages from the template it is given: another version, another prompt', () => {
    const input = { query, sources: [source(1, 5)] };
    const options = { maxContextTokens: 1000, countTokens: estimateTokens };
    const v1 = buildContext({ ...input, prompt }, options);
    const v2 = buildContext({ ...input, prompt: promptTemplate('answer@2')! }, options);
    expect(v1.messages[0]!.content).toBe(prompt.system);
    expect(v1.messages[1]!.content).toBe(`Notes:\n[1] Note 1\n${source(1, 5).text}\n\nQuestion: ${query}`);
    expect(v2.messages[0]!.content).not.toBe(v1.messages[0]!.content);
    expect(v2.messages[1]!.content.startsWith(`Question: ${query}`)).toBe(true);
    expect(v2.sources).toEqual(v1.sources);
  });
});
