import { z } from 'zod';

/** Stable, snake_case error codes shared by the API (HTTP bodies) and the worker (terminal events). */
export const ErrorCode = z.enum([
  'invalid_request',
  'invalid_json',
  'unsupported_media_type',
  'payload_too_large',
  'unauthorized',
  'stream_token_expired',
  'stream_token_invalid',
  'forbidden',
  'not_found',
  'conflict',
  'idempotency_key_reused',
  'rate_limited',
  'budget_exceeded',
  'too_many_in_flight',
  'dependency_unavailable',
  'overloaded',
  'upstream_unavailable',
  'upstream_error',
  'generation_failed',
  'timeout',
  'internal_error',
  'unknown_flag',
  'query_not_finished',
  'invalid_weights',
  'unknown_prompt',
  'unknown_variant',
  'experiment_state',
  'experiment_conflict',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The one error body every route returns. */
export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    request_id: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
