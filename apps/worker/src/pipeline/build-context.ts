import type { ChatMessage, SourceText } from '@assistant/llm';
import type { Classification } from './classify.ts';

/** Options of {@link buildContext}. */
export type BuildContextOptions = {
  /** Token budget for the note excerpts in the prompt. @defaultValue 2000 */
  maxContextTokens: number;
  /** Counts tokens the way the model will (the tokenizer in production). */
  countTokens: (text: string) => number;
};

/** The prompt and the sources that fit in it, numbered as cited. */
export type Context<S extends SourceText = SourceText> = {
  messages: ChatMessage[];
  sources: S[];
  contextTokens: number;
};

const SYSTEM_PROMPT = [
  "You answer questions using only the user's own notes, given below as numbered excerpts.",
  'Cite the excerpts you use as [1], [2]. If the notes do not contain the answer, say so plainly',
  'instead of guessing. Be concise.',
].join(' ');

/**
 * Builds the chat messages from the retrieved chunks, best first, stopping at the token budget so
 * the prompt never overflows the model's context. Sources are cited by their position.
 */
export function buildContext<S extends SourceText>(
  input: { query: string; sources: S[]; classification: Classification },
  options: BuildContextOptions,
): Context<S> {
  const used: S[] = [];
  const excerpts: string[] = [];
  let tokens = 0;
  for (const source of input.sources) {
    const excerpt = `[${used.length + 1}] ${source.title}\n${source.text}`;
    const cost = options.countTokens(excerpt);
    if (tokens + cost > options.maxContextTokens) break;
    used.push(source);
    excerpts.push(excerpt);
    tokens += cost;
  }
  const notes = excerpts.length > 0 ? excerpts.join('\n\n') : '(no relevant notes found)';
  return {
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: `Notes:\n${notes}\n\nQuestion: ${input.query}` },
    ],
    sources: used,
    contextTokens: tokens,
  };
}

/** A rough token count (words and punctuation) for when no tokenizer is loaded. */
export function estimateTokens(text: string): number {
  return text.match(/\w+|[^\s\w]/g)?.length ?? 0;
}
