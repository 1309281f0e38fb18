import { getTableColumns, is, Param, Placeholder, type Query, sql, type Table } from 'drizzle-orm';
import { PostgresJsSession } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import type { Database } from './client.ts';

/** A database or a transaction of it: where a statement runs. */
export type Runner = Pick<Database, '_'>;

/** The postgres.js client under a drizzle database or transaction (a transaction's own connection). */
function clientOf(runner: Runner): Sql {
  const session = runner._.session;
  if (!is(session, PostgresJsSession)) throw new Error('prepared statements need the postgres.js driver');
  return session.client as Sql;
}

/**
 * A fixed-shape statement of a hot path, built by drizzle once (with `sql.placeholder` for what
 * varies) and run by postgres.js as a named prepared statement: each call fills the parameters
 * (through the columns' encoders, as drizzle would) and sends Bind/Execute only, instead of
 * drizzle rebuilding the SQL text and Postgres parsing and planning it again. Runs on a database
 * or inside one of its transactions. Returns the raw rows (column names as keys): see
 * {@link rowsOf} for a table's rows as drizzle returns them.
 *
 * @example
 * const byId = preparedStatement((db) => db.select().from(queries).where(eq(queries.id, sql.placeholder('id'))));
 * const raw = await byId(db, { id });
 */
export function preparedStatement<Values extends Record<string, unknown>>(
  build: (db: Runner) => { toSQL(): Query },
) {
  let built: Query | undefined;
  return function runPrepared(runner: Runner, values: Values): Promise<Record<string, unknown>[]> {
    built ??= build(runner).toSQL();
    const params = built.params.map((param) => filled(param, values));
    return clientOf(runner).unsafe(built.sql, params as never[], { prepare: true });
  };
}

/**
 * A built parameter with its placeholder filled as drizzle fills a value it is given: through
 * the column's encoder, `null` passed as SQL NULL (drizzle's own `fillPlaceholders` would encode
 * it, a JSON column's `null` then becoming the JSON value `null`).
 */
function filled(param: unknown, values: Record<string, unknown>): unknown {
  const slot = is(param, Placeholder) ? param : is(param, Param) ? param.value : undefined;
  if (!is(slot, Placeholder)) return param;
  const value = values[slot.name];
  if (value === undefined) throw new Error(`no value for placeholder "${slot.name}"`);
  return value === null || !is(param, Param) ? value : param.encoder.mapToDriverValue(value);
}

/** A placeholder where drizzle's types want a value (an update's `set` takes one at run time). */
export function placeholder<T>(name: string): T {
  return sql.placeholder(name) as unknown as T;
}

/**
 * A table's rows from raw rows (as {@link preparedStatement} returns them): each column decoded
 * as drizzle decodes it (timestamps to dates, for instance), `null` kept.
 */
export function rowsOf<T extends Table>(table: T): (raw: Record<string, unknown>[]) => T['$inferSelect'][] {
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => ({ key, column }));
  return (raw) =>
    raw.map((source) => {
      const row: Record<string, unknown> = {};
      for (const { key, column } of columns) {
        const value = source[column.name];
        row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
      }
      return row as T['$inferSelect'];
    });
}
