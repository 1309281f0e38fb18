/**
 * A versioned prompt: data, not string building in code. `user` holds `{{notes}}` (the numbered
 * excerpt block) and `{{question}}`. A published version never changes: a new wording is a new
 * version, so answers cached under the old one stay true to it.
 */
export type PromptTemplate = {
  readonly id: string;
  readonly version: number;
  /** One line on what this version changes, for the admin picking an experiment's variants. */
  readonly description: string;
  readonly system: string;
  readonly user: string;
};

/** Every prompt an answer may be built from. Add versions at the end; never edit one in place. */
export const PROMPT_TEMPLATES: readonly PromptTemplate[] = [
  {
    id: 'answer',
    version: 1,
    description: 'Answers from the numbered excerpts only, cites them, says so when they do not answer.',
    system: [
      "You answer questions using only the user's own notes, given below as numbered excerpts.",
      'Cite the excerpts you use as [1], [2]. If the notes do not contain the answer, say so plainly',
      'instead of guessing. Be concise.',
    ].join(' '),
    user: 'Notes:\n{{notes}}\n\nQuestion: {{question}}',
  },
  {
    id: 'answer',
    version: 2,
    description: 'As answer@1, but the direct answer first in one sentence, then at most three cited points.',
    system: [
      "You answer questions using only the user's own notes, given below as numbered excerpts.",
      'Start with the direct answer in one sentence, then add at most three short supporting points.',
      'Cite every excerpt you use as [1], [2]. If the notes do not contain the answer, say so in one',
      'sentence and do not guess.',
    ].join(' '),
    user: 'Question: {{question}}\n\nNotes:\n{{notes}}',
  },
];

/** The prompt every answer uses unless an experiment variant names another. */
export const DEFAULT_PROMPT = 'answer@1';

/** A template's reference, `<id>@<version>` (what experiments and cache keys name). */
export function promptRefOf(template: Pick<PromptTemplate, 'id' | 'version'>): string {
  return `${template.id}@${template.version}`;
}

const byRef = new Map(PROMPT_TEMPLATES.map((t) => [promptRefOf(t), t]));

/** The references of every template, in registry order: the prompts an experiment may name. */
export const PROMPT_REFS: readonly string[] = [...byRef.keys()];

/** The template a reference names, or `undefined` for one the registry does not hold. */
export function promptTemplate(ref: string): PromptTemplate | undefined {
  return byRef.get(ref);
}

/**
 * Fills a template's placeholders. Each value is put in once, as is: a question that itself
 * contains `{{notes}}` is not expanded again.
 *
 * @example
 * renderPrompt(promptTemplate('answer@1')!, { notes: '[1] Wifi\npassword: hunter2', question: 'wifi?' })
 */
export function renderPrompt(
  template: PromptTemplate,
  values: { notes: string; question: string },
): { system: string; user: string } {
  const fill = (text: string) =>
    text.replace(/\{\{(notes|question)\}\}/g, (_, name: 'notes' | 'question') => values[name]);
  return { system: fill(template.system), user: fill(template.user) };
}
