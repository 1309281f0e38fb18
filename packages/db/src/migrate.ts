import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

/** Folder of the versioned SQL migrations written by drizzle-kit. */
export const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url));

// Any constant shared by every process of this service.
const MIGRATION_LOCK = 7_300_123;

/**
 * Applies pending migrations over one dedicated connection, holding a session advisory lock so
 * replicas starting together run them once, one after the other.
 */
export async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(drizzle(sql), { migrationsFolder });
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
