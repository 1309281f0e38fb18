export type { Config } from './config.ts';
export { ConfigError, EnvSchema, loadConfig } from './config.ts';
export type { TierName } from './tiers.ts';
export { defaultTiers, mergeTiers, TierLimits } from './tiers.ts';
