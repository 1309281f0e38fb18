import { runMigrations } from '@assistant/db';
import postgres from 'postgres';
import { testServers, uniqueName } from './env.ts';

/** A migrated database of one test file's own. */
export type TestDatabase = { url: string; name: string; drop(): Promise<void> };

/**
 * Creates a fresh database (a whole database rather than a schema: drizzle-kit's migrations name
 * the `public` schema in foreign keys), migrates it, and drops it in `drop()`.
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = uniqueName(label);
  const admin = postgres(testServers.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(testServers.databaseUrl);
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return {
    url: url.toString(),
    name,
    async drop() {
      const sql = postgres(testServers.databaseUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}
