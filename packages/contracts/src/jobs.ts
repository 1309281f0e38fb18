import { z } from 'zod';

/** Payload of an `answer-query` job. Everything the worker needs; the query text is in Postgres. */
export const AnswerJob = z.strictObject({
  query_id: z.string().min(1),
  user_id: z.string().min(1),
  request_id: z.string().min(1),
  /** W3C trace context (traceparent/tracestate) of the submitting request. */
  trace: z.record(z.string(), z.string()).default({}),
  enqueued_at: z.number().int(),
});
export type AnswerJob = z.infer<typeof AnswerJob>;
