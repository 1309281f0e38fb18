/**
 * Where the real test servers are. Tests read these two variables (and nothing else) from the
 * environment; CI starts Redis and Postgres at these defaults.
 */
export const testServers = {
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
};

/** A short unique name for isolating one test file's keys, queues and database. */
export function uniqueName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 20);
  return `t_${clean}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
