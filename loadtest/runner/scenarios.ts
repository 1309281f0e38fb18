import { readFileSync } from 'node:fs';
import { z } from 'zod';

const Stage = z.strictObject({ target: z.number().min(0), durationS: z.number().positive() });

/** How arrivals are generated: open loop (constant or ramping rate) or closed loop (N virtual users). */
export const Load = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('constant'),
    rate: z.number().positive(),
    durationS: z.number().positive(),
  }),
  z.strictObject({ kind: z.literal('ramping'), startRate: z.number().min(0), stages: z.array(Stage).min(1) }),
  z.strictObject({
    kind: z.literal('closed'),
    vus: z.number().int().positive(),
    iterations: z.number().int().positive(),
    maxDurationS: z.number().positive(),
  }),
]);
export type Load = z.infer<typeof Load>;

/** Which questions are asked: each one new (a cache miss), or a Zipf mix over a fixed set. */
export const Questions = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('unique') }),
  z.strictObject({
    kind: z.literal('zipf'),
    distinct: z.number().int().positive(),
    s: z.number().positive(),
    seed: z.number().int(),
  }),
]);
export type Questions = z.infer<typeof Questions>;

export const Scenario = z.strictObject({
  description: z.string(),
  read: z.enum(['poll', 'sse']),
  questions: Questions,
  load: Load,
  p99Ms: z.strictObject({
    ttft: z.number().positive().optional(),
    e2e: z.number().positive(),
    /** End to end of answers served from the cache in the submit. */
    cacheHit: z.number().positive().optional(),
    /** How long a refused submit (429, 503) takes to be refused. */
    refusal: z.number().positive().optional(),
  }),
});
export type Scenario = z.infer<typeof Scenario>;

export const ScenarioFile = z.object({
  fakeLlm: z.strictObject({
    ttftMs: z.number().int().min(0),
    tokensPerSecond: z.number().min(0),
    answerTokens: z.number().int().positive(),
  }),
  users: z.number().int().positive(),
  httpReqFailedRate: z.number().min(0).max(1),
  scenarios: z.record(z.string(), Scenario),
});
export type ScenarioFile = z.infer<typeof ScenarioFile>;

/** Reads and validates `loadtest/scenarios.json`, the file the k6 scripts read too. */
export function loadScenarioFile(path = new URL('../scenarios.json', import.meta.url)): ScenarioFile {
  return ScenarioFile.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** Total planned length of a load, in seconds (for closed loops, its cap). */
export function loadDurationS(load: Load): number {
  if (load.kind === 'constant') return load.durationS;
  if (load.kind === 'closed') return load.maxDurationS;
  return load.stages.reduce((sum, stage) => sum + stage.durationS, 0);
}

/**
 * A load resized for a run: `durationS` replaces the planned length (ramping stages keep their
 * proportions), `scale` multiplies rates and virtual users (a short CI run at a small fraction).
 */
export function resizeLoad(load: Load, options: { durationS?: number; scale?: number }): Load {
  const scale = options.scale ?? 1;
  const durationS = options.durationS;
  if (load.kind === 'constant') {
    return { ...load, rate: load.rate * scale, durationS: durationS ?? load.durationS };
  }
  if (load.kind === 'closed') {
    return {
      ...load,
      vus: Math.max(1, Math.round(load.vus * scale)),
      maxDurationS: durationS ?? load.maxDurationS,
    };
  }
  const stretch = durationS === undefined ? 1 : durationS / loadDurationS(load);
  return {
    kind: 'ramping',
    startRate: load.startRate * scale,
    stages: load.stages.map((stage) => ({
      target: stage.target * scale,
      durationS: stage.durationS * stretch,
    })),
  };
}
