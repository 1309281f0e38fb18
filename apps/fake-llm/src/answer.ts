import { type ChatRequest, messageText } from './chat-request.ts';

const FILLER = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit'];

/** What the fake will say to one request, decided before any byte is sent. */
export type AnswerPlan = {
  /** Content deltas in order: the first word bare, every later word with its leading space. */
  tokens: string[];
  /** `length` when `max_tokens` cut the answer, else `stop`. */
  finishReason: 'stop' | 'length';
  promptTokens: number;
};

/**
 * Rough prompt size: the number of whitespace-separated words over all message contents.
 * Real tokenizers give more (about 1.3 tokens per English word); the fake only needs a
 * deterministic number tests can predict.
 */
export function countPromptTokens(request: ChatRequest): number {
  return request.messages.reduce((sum, message) => sum + countWords(messageText(message)), 0);
}

/**
 * Builds the deterministic answer: `Fake answer to: <last user message, first 60 chars>.`
 * followed by filler words, `answerTokens` tokens in all, cut to `max_tokens`. A `scripted`
 * answer (the settings' `answersByModel`) replaces the echo and the filler, word for word.
 *
 * @example
 * planAnswer({ messages: [{ role: 'user', content: 'Hi' }] }, 5).tokens.join('')
 * // 'Fake answer to: Hi. lorem'
 */
export function planAnswer(request: ChatRequest, answerTokens: number, scripted?: string): AnswerPlan {
  let words: string[];
  if (scripted !== undefined) {
    words = scripted.split(' ').filter((word) => word.length > 0);
  } else {
    const lastUser = request.messages.filter((message) => message.role === 'user').at(-1);
    const question = lastUser ? messageText(lastUser).replace(/\s+/g, ' ').trim().slice(0, 60).trimEnd() : '';
    words = `Fake answer to: ${question}.`.split(' ').filter((word) => word.length > 0);
    for (let i = 0; words.length < answerTokens; i++) words.push(FILLER[i % FILLER.length]!);
    words = words.slice(0, answerTokens);
  }
  const full = words.map((word, i) => (i === 0 ? word : ` ${word}`));
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? Number.POSITIVE_INFINITY;
  return {
    tokens: full.slice(0, maxTokens),
    finishReason: full.length > maxTokens ? 'length' : 'stop',
    promptTokens: countPromptTokens(request),
  };
}

function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}
