import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EnvSchema, loadConfig } from './config.ts';

const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');

/** Variables named in .env.example, set or commented out (`# NAME=`). */
function documented(): Set<string> {
  return new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
}

describe('.env.example', () => {
  // The schema's own bookkeeping variables are read from the environment but not meant to be set.
  const implicit = new Set(['HOME', 'XDG_CACHE_HOME', 'NODE_ENV']);

  it('lists every variable the config reads', () => {
    const names = Object.keys(EnvSchema.shape).filter((name) => !implicit.has(name));
    const missing = names.filter((name) => !documented().has(name));
    expect(missing).toEqual([]);
  });

  it('names no variable the config does not read', () => {
    const known = new Set(Object.keys(EnvSchema.shape));
    expect([...documented()].filter((name) => !known.has(name))).toEqual([]);
  });

  it('is itself a valid configuration', () => {
    const values = Object.fromEntries(
      [...example.matchAll(/^([A-Z][A-Z0-9_]+)=(\S*)/gm)].map((m) => [m[1]!, m[2]!]),
    );
    expect(() => loadConfig(values)).not.toThrow();
  });
});
