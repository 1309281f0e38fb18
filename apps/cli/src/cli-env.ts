import { existsSync, readFileSync } from 'node:fs';

/** What the CLI takes from its environment: the one module that reads `process.env`. */
export type CliEnv = {
  /** `API_URL`, else `http://127.0.0.1:$PORT` (3000). */
  apiUrl: string;
  /** `ASSISTANT_API_KEY`: a user's key, for the user commands. */
  apiKey: string | undefined;
  /** `ADMIN_TOKEN`, else `.local/admin-token` (written by `npm start`): for the admin commands. */
  adminToken: string | undefined;
};

/** Reads `.env` (when present in the working directory) and the variables the CLI knows. */
export function readCliEnv(): CliEnv {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const env = process.env;
  return {
    apiUrl: env.API_URL ?? `http://127.0.0.1:${env.PORT ?? '3000'}`,
    apiKey: env.ASSISTANT_API_KEY || undefined,
    adminToken:
      env.ADMIN_TOKEN ||
      (existsSync('.local/admin-token') ? readFileSync('.local/admin-token', 'utf8').trim() : undefined),
  };
}
