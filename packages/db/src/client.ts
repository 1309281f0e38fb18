import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

/** Connection settings for {@link createDb}. */
export type DbOptions = {
  url: string;
  /** @defaultValue 10 */
  poolSize?: number;
  /** Seconds to wait for a connection before failing. @defaultValue 5 */
  connectTimeoutSeconds?: number;
};

/** A drizzle database over a `postgres` pool. */
export type Database = ReturnType<typeof drizzle<typeof schema>>;

/** The database handle an app owns: drizzle for queries, `ping` for readiness, `close` at shutdown. */
export type Db = {
  db: Database;
  ping(): Promise<void>;
  close(): Promise<void>;
};

/** Opens a pool (lazily: nothing connects until the first query). */
export function createDb(options: DbOptions): Db {
  const sql = postgres(options.url, {
    max: options.poolSize ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    onnotice: () => {},
  });
  const db = drizzle(sql, { schema });
  return {
    db,
    async ping() {
      await sql`select 1`;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
