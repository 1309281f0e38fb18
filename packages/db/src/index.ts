export { createDb } from './client.ts';
export type { Database, Db, DbOptions } from './client.ts';
export { migrationsFolder, runMigrations } from './migrate.ts';
export { createQueriesRepo } from './queries-repo.ts';
export type { QueriesRepo, QuerySuccess } from './queries-repo.ts';
export { apiKeys, queries, users } from './schema.ts';
export type { QueryRow, UserRow } from './schema.ts';
export { createUsersRepo, generateApiKey, hashApiKey } from './users-repo.ts';
export type { KeyOwner, TierName, UsersRepo } from './users-repo.ts';
