import { z } from 'zod';

/**
 * Faults the fake can inject, one per request.
 *
 * - `rate_limit`: 429 with a `Retry-After` header (`retryAfterSeconds`).
 * - `unavailable`: 503.
 * - `server_error`: 500.
 * - `mid_stream_error`: the stream sends `faultAfterTokens` tokens, then an SSE
 *   `data: {"error": {...}}` event, and ends without `[DONE]`.
 * - `truncate`: the stream sends `faultAfterTokens` tokens, then closes cleanly without a
 *   `finish_reason` chunk and without `[DONE]`.
 * - `reset`: the stream sends `faultAfterTokens` tokens, then the TCP socket is reset.
 * - `hang`: no response at all until the client goes away.
 */
export const FaultKind = z.enum([
  'rate_limit',
  'unavailable',
  'server_error',
  'mid_stream_error',
  'truncate',
  'reset',
  'hang',
]);
export type FaultKind = z.infer<typeof FaultKind>;

const settingsShape = {
  /** Model id reported when the request names none, and listed by `GET /v1/models`. */
  model: z.string().min(1),
  /** Delay before the first token, in milliseconds. */
  ttftMs: z.number().int().min(0),
  /** Pace of tokens after the first; 0 sends them as fast as possible. */
  tokensPerSecond: z.number().min(0),
  /** Length of the full answer, in tokens, before `max_tokens` caps it. */
  answerTokens: z.number().int().min(1),
  /** Interval of `: keep-alive` SSE comments while a stream waits for its first token. */
  keepAliveMs: z.number().int().min(1),
  /** Probability (0..1) that a request fails with one of `errorKinds`. */
  errorRate: z.number().min(0).max(1),
  /** Faults drawn from when a request fails. */
  errorKinds: z.array(FaultKind).min(1),
  /** `Retry-After` seconds sent with `rate_limit`. */
  retryAfterSeconds: z.number().int().min(0),
  /** Content tokens a stream sends before `mid_stream_error`, `truncate` or `reset` strikes. */
  faultAfterTokens: z.number().int().min(0),
  /** The next N valid requests fail, taking `errorKinds` in turn; decremented per request. */
  failNext: z.number().int().min(0),
  /** Seed of the random source that draws errors (only when no `random` is injected). */
  seed: z.number().int(),
  /**
   * Fixed answers by requested model id: a request naming one of them is answered with exactly
   * that text (words as tokens, cut at `max_tokens`) instead of the echo, e.g. a cheap model that
   * answers off the point and a strong one that quotes the notes.
   */
  answersByModel: z.record(z.string().min(1), z.string().min(1)),
};

/** All knobs of the fake LLM; `PUT /control` merges a partial of it. */
export const FakeLlmSettings = z.strictObject(settingsShape);
export type FakeLlmSettings = z.infer<typeof FakeLlmSettings>;

/**
 * A partial settings update, as accepted by `PUT /control`. Unknown keys are rejected.
 *
 * The shape has no `.default()`s on purpose: zod 4 applies defaults inside optional fields,
 * which would turn every patch into a reset of the keys it does not name.
 */
export const FakeLlmSettingsPatch = FakeLlmSettings.partial();
export type FakeLlmSettingsPatch = z.infer<typeof FakeLlmSettingsPatch>;

/** Settings used when neither options nor env say otherwise. */
export const defaultFakeLlmSettings: FakeLlmSettings = {
  model: 'fake-llm',
  ttftMs: 0,
  tokensPerSecond: 0,
  answerTokens: 20,
  keepAliveMs: 1000,
  errorRate: 0,
  errorKinds: ['rate_limit', 'unavailable', 'server_error'],
  retryAfterSeconds: 1,
  faultAfterTokens: 3,
  failNext: 0,
  seed: 42,
  answersByModel: {},
};
