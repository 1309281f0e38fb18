export type { AnswerSettings, Config } from './config.ts';
export {
  answerSettings,
  ConfigError,
  EnvSchema,
  loadConfig,
  loadConfigOrExit,
  settingsUnderVariant,
} from './config.ts';
export {
  DEFAULT_PROMPT,
  PROMPT_REFS,
  PROMPT_TEMPLATES,
  type PromptTemplate,
  promptRefOf,
  promptTemplate,
  renderPrompt,
} from './prompt-templates.ts';
export type { TierName } from './tiers.ts';
export { defaultTiers, limitsFor, mergeTiers, TierLimits } from './tiers.ts';
