import { z } from 'zod';
import { Answer, QueryError, Source } from './queries.ts';

/**
 * Events of one query, in the order a client sees them on its Redis Stream and over SSE.
 * A `restart`, or a new `started` with a higher `attempt`, means the answer starts over: discard
 * the tokens received so far.
 * Exactly one terminal event (`done` or `error`) ends every stream.
 */
export const QueryEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('queued'), query_id: z.string() }),
  z.object({ type: z.literal('started'), attempt: z.number().int().positive() }),
  z.object({ type: z.literal('sources'), sources: z.array(Source) }),
  z.object({ type: z.literal('token'), text: z.string() }),
  // The answer restarts (a model failed mid-stream and the next one takes over): discard tokens.
  z.object({ type: z.literal('restart'), reason: z.string() }),
  z.object({ type: z.literal('done'), result: Answer }),
  z.object({ type: z.literal('error'), error: QueryError }),
]);
export type QueryEvent = z.infer<typeof QueryEvent>;
export type QueryEventType = QueryEvent['type'];

/** `done` and `error` end a stream. */
export function isTerminalEvent(event: QueryEvent): boolean {
  return event.type === 'done' || event.type === 'error';
}
