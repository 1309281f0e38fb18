export { ConfigError, EnvSchema, loadConfig } from './config.ts';
export type { Config } from './config.ts';
