export type { Config } from './config.ts';
export { ConfigError, EnvSchema, loadConfig } from './config.ts';
export { defaultTiers, mergeTiers, TierLimits } from './tiers.ts';
export type { TierName } from './tiers.ts';
