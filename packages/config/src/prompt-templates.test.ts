import { PromptRef } from '@assistant/contracts';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PROMPT,
  PROMPT_REFS,
  PROMPT_TEMPLATES,
  promptTemplate,
  renderPrompt,
} from './prompt-templates.ts';

describe('prompt templates', () => {
  it('holds at least two versions of the answer prompt, each named id@version once', () => {
    expect(PROMPT_REFS).toEqual(expect.arrayContaining(['answer@1', 'answer@2']));
    expect(new Set(PROMPT_REFS).size).toBe(PROMPT_TEMPLATES.length);
    for (const ref of PROMPT_REFS) expect(PromptRef.safeParse(ref).success).toBe(true);
    expect(promptTemplate(DEFAULT_PROMPT)).toMatchObject({ id: 'answer', version: 1 });
    expect(promptTemplate('answer@99')).toBeUndefined();
  });

  it('puts the notes and the question into every template', () => {
    for (const template of PROMPT_TEMPLATES) {
      const { system, user } = renderPrompt(template, { notes: 'NOTES', question: 'QUESTION' });
      expect(user).toContain('NOTES');
      expect(user).toContain('QUESTION');
      expect(`${system}${user}`).not.toMatch(/\{\{/);
    }
  });

  it('inserts values as they are, without expanding placeholders inside them', () => {
    const { user } = renderPrompt(promptTemplate('answer@1')!, { notes: '$& {{question}}', question: 'q' });
    expect(user).toBe('Notes:\n$& {{question}}\n\nQuestion: q');
  });
});
