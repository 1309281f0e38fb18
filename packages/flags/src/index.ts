export type {
  CanaryGuard,
  CanaryGuardDeps,
  CanaryOptions,
  CanaryTrigger,
  CanaryVerdict,
} from './canary-guard.ts';
export { createCanaryGuard } from './canary-guard.ts';
export type { CanaryStats, CohortStats } from './canary-stats.ts';
export { createCanaryStats, LATENCY_BOUNDS_MS, p99Of } from './canary-stats.ts';
export type { Proportion, ProportionComparison } from './experiment-stats.ts';
export { compareProportions, normalCdf } from './experiment-stats.ts';
export { defaultRule, defaultRules, isPartialRollout, ruleAllows } from './flag-rules.ts';
export type {
  EffectiveFlag,
  FlagSnapshot,
  FlagSnapshotDeps,
  FlagSnapshotOptions,
  Flags,
} from './flag-snapshot.ts';
export { createFlagSnapshot } from './flag-snapshot.ts';
export type { FlagActor, FlagOverrides, FlagStore } from './flag-store.ts';
export { createFlagStore, StoredOverride } from './flag-store.ts';
export { inRollout, ROLLOUT_BUCKETS, rolloutBucket } from './rollout-bucket.ts';
export { assignedVariantOf, assignVariant } from './variant-assignment.ts';
