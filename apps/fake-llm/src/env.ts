import { z } from 'zod';
import { type FakeLlmSettingsPatch, FaultKind } from './settings.ts';

const commaList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  )
  .pipe(z.array(FaultKind).min(1));

/** Environment variables read by `main.ts`; every one is optional. */
export const FakeLlmEnv = z.object({
  /** Port to listen on. */
  FAKE_LLM_PORT: z.coerce.number().int().min(0).max(65535).default(8089),
  /** Interface to listen on; `0.0.0.0` inside a container. */
  FAKE_LLM_HOST: z.string().min(1).default('127.0.0.1'),
  /** Time to first token, in milliseconds. */
  FAKE_LLM_TTFT_MS: z.coerce.number().int().min(0).optional(),
  /** Tokens per second after the first; 0 = as fast as possible. */
  FAKE_LLM_TOKENS_PER_SECOND: z.coerce.number().min(0).optional(),
  /** Probability (0..1) that a request fails. */
  FAKE_LLM_ERROR_RATE: z.coerce.number().min(0).max(1).optional(),
  /** Comma list of fault kinds failures are drawn from, e.g. `rate_limit,unavailable`. */
  FAKE_LLM_ERROR_KINDS: commaList.optional(),
  /** Seed of the random source that draws failures. */
  FAKE_LLM_SEED: z.coerce.number().int().optional(),
});
export type FakeLlmEnv = z.infer<typeof FakeLlmEnv>;

/**
 * Parses the fake's environment into where to listen and a settings patch. Pure: pass `process.env`.
 *
 * @throws ZodError listing every invalid variable.
 */
export function readFakeLlmEnv(env: Record<string, string | undefined>): {
  port: number;
  hostname: string;
  settings: FakeLlmSettingsPatch;
} {
  const parsed = FakeLlmEnv.parse(env);
  const settings: FakeLlmSettingsPatch = {};
  if (parsed.FAKE_LLM_TTFT_MS !== undefined) settings.ttftMs = parsed.FAKE_LLM_TTFT_MS;
  if (parsed.FAKE_LLM_TOKENS_PER_SECOND !== undefined)
    settings.tokensPerSecond = parsed.FAKE_LLM_TOKENS_PER_SECOND;
  if (parsed.FAKE_LLM_ERROR_RATE !== undefined) settings.errorRate = parsed.FAKE_LLM_ERROR_RATE;
  if (parsed.FAKE_LLM_ERROR_KINDS !== undefined) settings.errorKinds = parsed.FAKE_LLM_ERROR_KINDS;
  if (parsed.FAKE_LLM_SEED !== undefined) settings.seed = parsed.FAKE_LLM_SEED;
  return { port: parsed.FAKE_LLM_PORT, hostname: parsed.FAKE_LLM_HOST, settings };
}
