export type { Config } from './config.ts';
export {
  answerSettings,
  ConfigError,
  EnvSchema,
  loadConfig,
  loadConfigOrExit,
  PROMPT_VARIANT,
  settingsUnderVariant,
} from './config.ts';
export type { TierName } from './tiers.ts';
export { defaultTiers, limitsFor, mergeTiers, TierLimits } from './tiers.ts';
