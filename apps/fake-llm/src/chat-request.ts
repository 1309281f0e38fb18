import { z } from 'zod';

const TextPart = z.object({ type: z.literal('text'), text: z.string() });

/** One message of an OpenAI chat request; content may be a string or text parts. */
export const ChatRequestMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(z.union([TextPart, z.object({ type: z.string() })])), z.null()]),
});
export type ChatRequestMessage = z.infer<typeof ChatRequestMessage>;

/** The subset of the OpenAI `POST /v1/chat/completions` body the fake understands. */
export const ChatRequest = z.object({
  model: z.string().optional(),
  messages: z.array(ChatRequestMessage).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
});
export type ChatRequest = z.infer<typeof ChatRequest>;

/** Plain text of a message: the string, or its text parts joined by spaces. */
export function messageText(message: ChatRequestMessage): string {
  if (typeof message.content === 'string') return message.content;
  if (message.content === null) return '';
  return message.content
    .map((part) => ('text' in part && typeof part.text === 'string' ? part.text : ''))
    .join(' ');
}
