import type { ChatMessage } from './llm-provider.ts';

/**
 * Rough token count of a text: one token per 4 characters, the usual rule of thumb for
 * English with BPE tokenizers. Used only when a server sends no usage chunk.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Rough prompt size: `estimateTokens` over every message plus 4 tokens of chat framing each. */
export function estimatePromptTokens(messages: ChatMessage[]): number {
  return messages.reduce((sum, message) => sum + estimateTokens(message.content) + 4, 0);
}
