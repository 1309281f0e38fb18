import type { FakeLlmSettings, FaultKind } from './settings.ts';

/** Decides, per valid request, whether and how it fails. */
export type FaultPicker = {
  /** Returns the fault for the next request, or `undefined` to answer normally. */
  next(settings: FakeLlmSettings): FaultKind | undefined;
  /** Forgets how many forced failures were handed out. */
  reset(): void;
};

/**
 * Creates the fault picker. `failNext` wins over `errorRate` and takes `errorKinds` in turn
 * (round-robin), so a test that forces three failures of two kinds knows which comes when;
 * `errorRate` draws both the decision and the kind from `random`.
 * The caller decrements `failNext` (it is a setting, visible in `GET /control`).
 */
export function createFaultPicker(random: () => number): FaultPicker {
  let forced = 0;
  return {
    next: function pickFault(settings) {
      const kinds = settings.errorKinds;
      if (settings.failNext > 0) return kinds[forced++ % kinds.length];
      if (settings.errorRate > 0 && random() < settings.errorRate) {
        return kinds[Math.floor(random() * kinds.length)];
      }
      return undefined;
    },
    reset: function resetFaults() {
      forced = 0;
    },
  };
}
