import { z } from 'zod';
import { ErrorCode } from './errors.ts';

/** Longest question accepted, in characters after trimming. */
export const MAX_QUERY_CHARS = 4000;

/** Body of `POST /v1/queries`. Unknown fields are rejected. */
export const SubmitQuery = z.strictObject({
  query: z
    .string({ error: 'query must be a string' })
    .trim()
    .min(1, 'query must not be empty')
    .max(MAX_QUERY_CHARS, `query must be at most ${MAX_QUERY_CHARS} characters`),
});
export type SubmitQuery = z.infer<typeof SubmitQuery>;

/** Lifecycle of a query. */
export const QueryStatus = z.enum(['queued', 'running', 'succeeded', 'failed']);
export type QueryStatus = z.infer<typeof QueryStatus>;

/** A note chunk an answer was built from. */
export const Source = z.object({
  note_id: z.string(),
  title: z.string(),
  text: z.string(),
  score: z.number(),
});
export type Source = z.infer<typeof Source>;

/** Token counts of one answer. */
export const Usage = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

/** A terminal failure as clients see it. */
export const QueryError = z.object({ code: ErrorCode, message: z.string() });
export type QueryError = z.infer<typeof QueryError>;

/** How an answer was reached: which source answered, and why earlier models did not. */
export const FallbackInfo = z.object({
  source: z.string(),
  attempts: z.array(
    z.object({ provider: z.string(), model: z.string(), outcome: z.string(), reason: z.string() }),
  ),
});
export type FallbackInfo = z.infer<typeof FallbackInfo>;

/**
 * The online quality score of an answer (no LLM call): `score` in [0, 1] and the parts it is made
 * of. Groundedness is the share of the answer's sentences the sources support (embedding
 * similarity with the worker's model, and the share of their words the sources hold); citation
 * coverage the share of sentences citing a source, validity the share of citations naming a
 * source the model was given.
 */
export const AnswerQuality = z.object({
  score: z.number().min(0).max(1),
  groundedness: z.number().min(0).max(1),
  /** Mean support of the sentences in [0, 1] (groundedness counts those at or above the bar). */
  support: z.number().min(0).max(1),
  citation_coverage: z.number().min(0).max(1),
  citation_validity: z.number().min(0).max(1),
  sentences: z.number().int().nonnegative(),
  supported_sentences: z.number().int().nonnegative(),
  /** The model was given no source (nothing can support the answer). */
  no_context: z.boolean(),
  truncated: z.boolean(),
  /** Version of the scoring rule. */
  version: z.number().int().positive(),
});
export type AnswerQuality = z.infer<typeof AnswerQuality>;

/**
 * The first attempt of an escalated answer: it scored below the threshold, and a stronger model
 * answered again. Its tokens and cost are counted in the answer's `usage` and `cost_usd` too.
 */
export const EscalationInfo = z.object({
  model: z.string(),
  provider: z.string(),
  score: z.number().min(0).max(1),
  usage: Usage,
  cost_usd: z.number().nonnegative(),
  /** The model asked the second time. */
  escalated_to: z.string(),
});
export type EscalationInfo = z.infer<typeof EscalationInfo>;

/**
 * Whether the notes answered: `answered`, or `no_context` when retrieval found that the user's
 * notes do not cover the question (then `sources` is empty and no model was called).
 */
export const AnswerOutcome = z.enum(['answered', 'no_context']);
export type AnswerOutcome = z.infer<typeof AnswerOutcome>;

/**
 * What kind of question it is, as routing sees it: `simple` (a fact from one note), `complex`
 * (comparisons, summaries, plans, several notes), `no_context` (the notes do not cover it).
 */
export const QueryClass = z.enum(['simple', 'complex', 'no_context']);
export type QueryClass = z.infer<typeof QueryClass>;

/**
 * How a routed question was sent: its class and the model routing chose for it (the first model
 * tried; `model` of the answer says who answered). `none` for `no_context`: no model was called.
 */
export const Route = z.object({ class: QueryClass, model: z.string() });
export type Route = z.infer<typeof Route>;

/** The finished answer: carried by the `done` event and stored on the query. */
export const Answer = z.object({
  outcome: AnswerOutcome.default('answered'),
  answer: z.string(),
  sources: z.array(Source),
  model: z.string(),
  provider: z.string(),
  usage: Usage,
  cost_usd: z.number().nonnegative(),
  truncated: z.boolean(),
  fallback: FallbackInfo.optional(),
  /** Absent when scoring was off for the question, and for the `no_context` outcome (no model). */
  quality: AnswerQuality.optional(),
  /** Present when a low-scoring first attempt was answered again by a stronger model. */
  escalation: EscalationInfo.optional(),
  /** Present when the question was routed (the `classification_routing` flag on for its user). */
  route: Route.optional(),
});
export type Answer = z.infer<typeof Answer>;

/** Body of `GET /v1/queries/:id`. */
export const QueryView = z.object({
  id: z.string(),
  status: QueryStatus,
  query: z.string(),
  answer: z.string().nullable(),
  /** Null until the query has succeeded. */
  outcome: AnswerOutcome.nullable(),
  sources: z.array(Source),
  model: z.string().nullable(),
  usage: Usage.nullable(),
  cost_usd: z.number().nullable(),
  /** The answer was cut at the token limit (`LLM_MAX_TOKENS`); null until the query has succeeded. */
  truncated: z.boolean().nullable(),
  cached: z.boolean(),
  fallback: FallbackInfo.nullable(),
  /** The answer's quality score and its parts; null when not scored. */
  quality: AnswerQuality.nullable(),
  /** The first attempt when the answer was escalated to a stronger model; null otherwise. */
  escalation: EscalationInfo.nullable(),
  /** The question's class and routed model; null until it succeeded, or when it was not routed. */
  route: Route.nullable(),
  error: QueryError.nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  links: z.object({ self: z.string(), events: z.string() }),
});
export type QueryView = z.infer<typeof QueryView>;

/** Body of the 202 reply to `POST /v1/queries`. */
export const SubmitAccepted = z.object({
  id: z.string(),
  status: QueryStatus,
  links: z.object({ self: z.string(), events: z.string() }),
});
export type SubmitAccepted = z.infer<typeof SubmitAccepted>;

/** Query string of `GET /v1/queries/:id`. */
export const GetQueryParams = z.strictObject({
  wait: z.coerce
    .number({ error: 'wait must be a number of seconds' })
    .min(0, 'wait must be >= 0')
    .max(30, 'wait must be at most 30 seconds')
    .optional(),
});
