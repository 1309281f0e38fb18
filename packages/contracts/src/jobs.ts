import { z } from 'zod';
import { AssignedVariant } from './experiments.ts';
import { Tier } from './users.ts';

/** Payload of an `answer-query` job. Everything the worker needs; the query text is in Postgres. */
export const AnswerJob = z.strictObject({
  query_id: z.string().min(1),
  user_id: z.string().min(1),
  request_id: z.string().min(1),
  tier: Tier,
  /** The asker's effective limits at admission (tier row + admin override). */
  limits: z.strictObject({
    maxRunning: z.number().int().positive(),
    dailyBudgetMicros: z.number().int().nonnegative(),
  }),
  /** `Cache-Control: no-store`: answer afresh, reuse no cached answer and store none. */
  bypass_cache: z.boolean().default(false),
  /**
   * The question's single-flight id (absent for `no-store`): identical questions join the query
   * its marker names; the worker releases the marker when the query fails.
   */
  flight_id: z.string().optional(),
  /** Full marker key of jobs queued before `flight_id`; accepted so they still parse, unused. */
  flight_key: z.string().optional(),
  /**
   * W3C trace context (`traceparent`, `tracestate`) of the submit's `assistant.query` span (the
   * caller's own when its tracing is off): each attempt's spans are its children.
   */
  trace: z.record(z.string(), z.string()).default({}),
  enqueued_at: z.number().int(),
  /** The experiment variant (or promoted default) this question is answered under, if any. */
  experiment: AssignedVariant.optional(),
});
export type AnswerJob = z.infer<typeof AnswerJob>;
