import { Tokenizer } from '@huggingface/tokenizers';
import { EmbeddingModelError } from './embedding-errors.ts';
import type { ModelFilesOptions } from './model-files.ts';
import { readModelFiles } from './model-files.ts';
import { prefixEndWithinTokens } from './token-prefix.ts';

/** Word pieces of a text as the tokenizer produced them, without special tokens. */
export type TokenizedText = { ids: number[]; tokens: string[] };

/** Tokenization as a model sees it: counting, truncating and building its input ids. */
export type TextTokenizer = {
  /** Longest sequence the model accepts, special tokens ([CLS], [SEP]) included. */
  readonly maxTokens: number;
  /** Word pieces of text that fit beside the special tokens: `maxTokens` minus their count. */
  readonly maxTextTokens: number;
  /** Id used to pad shorter sequences in a batch (masked out, so never seen by pooling). */
  readonly padTokenId: number;
  /** The ids fed to the model: special tokens around the text, truncated to `maxTokens`. */
  encode(text: string): number[];
  /** Word pieces of `text`, without special tokens and without truncation. */
  countTokens(text: string): number;
  /** Ids and token strings of `text` (this tokenizer library reports no character offsets). */
  tokenize(text: string): TokenizedText;
  /** The longest prefix of `text` with at most `maxTokens` word pieces, cut after a word if possible. */
  truncateToTokens(text: string, maxTokens: number): string;
};

/** Tunables of {@link createTextTokenizer}. */
export type TextTokenizerOptions = {
  /** Sequence window including special tokens. */
  maxTokens: number;
  /** Overrides the pad id otherwise read from the tokenizer config. */
  padTokenId?: number;
};

// The package's .d.ts files use extensionless relative imports, which NodeNext cannot resolve,
// so its classes arrive as `any`: this is the slice of the API we rely on, typed here.
type HfTokenizer = {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  token_to_id(token: string): number | undefined;
};

// A long text is first encoded through a prefix of this many characters per window token, so a
// megabyte of text costs a few milliseconds instead of a second; the prefix grows while too short.
const PREFIX_CHARS_PER_TOKEN = 16;

/**
 * Wraps a Hugging Face `tokenizer.json` + `tokenizer_config.json` pair. Special tokens are
 * learned from the tokenizer's own post-processor, so BERT ([CLS] … [SEP]) and RoBERTa-style
 * (<s> … </s>) layouts both keep their closing token when a text is truncated.
 */
export function createTextTokenizer(
  tokenizerJson: object,
  tokenizerConfig: object,
  options: TextTokenizerOptions,
): TextTokenizer {
  const tokenizer: HfTokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const { prefix, suffix } = specialTokenLayout(tokenizer);
  const maxTextTokens = options.maxTokens - prefix.length - suffix.length;
  if (maxTextTokens < 1) {
    throw new RangeError(`maxTokens ${options.maxTokens} leaves no room beside the special tokens`);
  }
  const padTokenId = options.padTokenId ?? findPadTokenId(tokenizer, tokenizerConfig);

  function textIds(text: string): number[] {
    return tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  function truncatedTextIds(text: string): number[] {
    // Cutting at whitespace leaves every earlier word tokenized exactly as in the full text.
    for (let chars = PREFIX_CHARS_PER_TOKEN * maxTextTokens; chars < text.length; chars *= 4) {
      const cut = lastWhitespaceAtOrBefore(text, chars);
      if (cut <= 0) continue;
      const ids = textIds(text.slice(0, cut));
      if (ids.length >= maxTextTokens) return ids.slice(0, maxTextTokens);
    }
    return textIds(text).slice(0, maxTextTokens);
  }

  function countTokens(text: string): number {
    return textIds(text).length;
  }

  return {
    maxTokens: options.maxTokens,
    maxTextTokens,
    padTokenId,
    encode: function encode(text) {
      return [...prefix, ...truncatedTextIds(text), ...suffix];
    },
    countTokens,
    tokenize: function tokenize(text) {
      const { ids, tokens } = tokenizer.encode(text, { add_special_tokens: false });
      return { ids, tokens };
    },
    truncateToTokens: function truncateToTokens(text, maxTokens) {
      return text.slice(0, prefixEndWithinTokens(text, maxTokens, countTokens));
    },
  };
}

/** Reads the tokenizer of a model folder, with the window {@link readModelFiles} derives. */
export async function loadTextTokenizer(
  dir: string,
  options: ModelFilesOptions = {},
): Promise<TextTokenizer> {
  const files = await readModelFiles(dir, options);
  return createTextTokenizer(files.tokenizerJson, files.tokenizerConfig, {
    maxTokens: files.maxTokens,
    ...(files.padTokenId === undefined ? {} : { padTokenId: files.padTokenId }),
  });
}

/** Ids the post-processor puts before and after a text, found by encoding a probe both ways. */
function specialTokenLayout(tokenizer: HfTokenizer): { prefix: number[]; suffix: number[] } {
  const bare = tokenizer.encode('hello world', { add_special_tokens: false }).ids;
  const full = tokenizer.encode('hello world').ids;
  for (let start = 0; start + bare.length <= full.length; start++) {
    if (bare.every((id, i) => full[start + i] === id)) {
      return { prefix: full.slice(0, start), suffix: full.slice(start + bare.length) };
    }
  }
  throw new EmbeddingModelError('model_invalid', 'cannot locate the text between the special tokens');
}

function findPadTokenId(tokenizer: HfTokenizer, tokenizerConfig: object): number {
  const padToken = (tokenizerConfig as { pad_token?: unknown }).pad_token;
  const content =
    typeof padToken === 'object' && padToken !== null
      ? (padToken as { content?: unknown }).content
      : padToken;
  return (typeof content === 'string' ? tokenizer.token_to_id(content) : undefined) ?? 0;
}

function lastWhitespaceAtOrBefore(text: string, index: number): number {
  for (let i = Math.min(index, text.length - 1); i > 0; i--) {
    if (/\s/.test(text[i]!)) return i;
  }
  return -1;
}
