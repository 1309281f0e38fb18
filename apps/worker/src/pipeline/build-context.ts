import { type PromptTemplate, renderPrompt } from '@assistant/config';
import type { ChatMessage, SourceText } from '@assistant/llm';

/** Options of {@link buildContext}. */
export type BuildContextOptions = {
  /**
   * Remembers the excerpt block of a set of chunks (token counting is the costly part), keyed by
   * the caller's key of everything the block depends on. @defaultValue no cache
   */
  excerpts?: {
    key: string;
    get(key: string): Excerpts | undefined;
    set(key: string, value: Excerpts): unknown;
  };
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

/** The numbered excerpt block of a prompt: how many sources fit the budget, and its tokens. */
export type Excerpts = { text: string; used: number; tokens: number };

function selectExcerpts(sources: SourceText[], options: BuildContextOptions): Excerpts {
  const parts: string[] = [];
  let tokens = 0;
  for (const source of sources) {
    const excerpt = `[${parts.length + 1}] ${source.title}\n${source.text}`;
    const cost = options.countTokens(excerpt);
    if (tokens + cost > options.maxContextTokens) break;
    parts.push(excerpt);
    tokens += cost;
  }
  return {
    text: parts.length > 0 ? parts.join('\n\n') : '(no relevant notes found)',
    used: parts.length,
    tokens,
  };
}

/**
 * Builds the chat messages from a prompt template and the retrieved chunks, best first, stopping
 * at the token budget so the prompt never overflows the model's context. Sources are cited by
 * their position.
 */
export function buildContext<S extends SourceText>(
  input: { query: string; sources: S[]; prompt: PromptTemplate },
  options: BuildContextOptions,
): Context<S> {
  const cache = options.excerpts;
  let excerpts = cache?.get(cache.key);
  if (!excerpts) {
    excerpts = selectExcerpts(input.sources, options);
    cache?.set(cache.key, excerpts);
  }
  const prompt = renderPrompt(input.prompt, { notes: excerpts.text, question: input.query });
  return {
    messages: [
      { role: 'system', content: prompt.system },
      { role: 'user', content: prompt.user },
    ],
    sources: input.sources.slice(0, excerpts.used),
    contextTokens: excerpts.tokens,
  };
}
