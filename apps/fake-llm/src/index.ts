export type { FakeLlmCounters, Outcome } from './counters.ts';
export { createFakeLlm, type FakeLlm, type FakeLlmOptions } from './fake-llm.ts';
export { createSeededRandom } from './seeded-random.ts';
export {
  defaultFakeLlmSettings,
  FakeLlmSettings,
  FakeLlmSettingsPatch,
  FaultKind,
} from './settings.ts';
export { type RunningFakeLlm, type StartFakeLlmOptions, startFakeLlm } from './start-fake-llm.ts';
