import { describe, expect, it } from 'vitest';
import { readmeTable, renderConfigTable } from './config-table.ts';

/** A Markdown table's cells, ignoring the padding the formatter adds. */
const cells = (table: string) =>
  table
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s:-]+\|/.test(line.replace(/\| *-+ */g, '|-')))
    .map((line) => line.split(/(?<!\\)\|/).map((cell) => cell.trim()));

describe('README configuration table', () => {
  it('matches the config schema (regenerate: npx tsx scripts/config-table.ts --write)', () => {
    const current = readmeTable();
    expect(current, 'README.md has no config-table block').toBeDefined();
    expect(cells(current!)).toEqual(cells(renderConfigTable()));
  });
});
