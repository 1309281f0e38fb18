import { getTableColumns, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Database } from './client.ts';

/**
 * Inserts many rows with one statement and one parameter (the rows as JSON, unpacked by
 * `json_populate_recordset`), skipping rows whose `conflictColumn` value exists; returns the
 * values of that column for the rows inserted. drizzle's multi-row insert builds one placeholder
 * per value, which for a batch of hundreds of wide rows costs more CPU than the statement itself.
 * Only the columns some row gives are written: the others take their defaults. Values go through
 * JSON: dates as ISO strings, jsonb columns as nested JSON.
 *
 * @example
 * const ids = await insertJsonRows(tx, queries, rows, 'id');
 */
export async function insertJsonRows<T extends PgTable>(
  tx: Pick<Database, 'execute'>,
  table: T,
  rows: readonly Partial<T['$inferInsert']>[],
  conflictColumn: keyof T['$inferInsert'] & string,
): Promise<string[]> {
  if (rows.length === 0) return [];
  const columns = Object.entries(getTableColumns(table)) as [string, { name: string }][];
  const given = columns.filter(([key]) =>
    rows.some((row) => (row as Record<string, unknown>)[key] !== undefined),
  );
  const json = rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [key, column] of given) out[column.name] = (row as Record<string, unknown>)[key];
    return out;
  });
  const names = sql.raw(given.map(([, column]) => `"${column.name}"`).join(', '));
  const conflictEntry = columns.find(([key]) => key === conflictColumn);
  if (!conflictEntry) throw new Error(`insertJsonRows: ${conflictColumn} is not a column of the table`);
  const conflict = conflictEntry[1].name;
  const inserted = await tx.execute<{ key: string }>(sql`
    insert into ${table} (${names})
    select ${names} from json_populate_recordset(null::${table}, ${JSON.stringify(json)}::json)
    on conflict (${sql.raw(`"${conflict}"`)}) do nothing
    returning ${sql.raw(`"${conflict}"`)} as key`);
  return inserted.map((row) => row.key);
}
