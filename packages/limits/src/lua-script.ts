import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const INCLUDE = /^-- @include ([\w.-]+)$/gm;

function readLua(name: string): string {
  const source = readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');
  // `-- @include x.lua` inlines a shared helper file, so each script stays one self-contained call.
  return source.replace(INCLUDE, (_line, file: string) => readLua(file));
}

/** A Lua script read from `src/lua/` at module load, run by SHA with a fallback to its source. */
export type LuaScript = {
  name: string;
  source: string;
  sha: string;
  run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown>;
};

/** Reads `src/lua/<name>` (with its includes) and prepares it to run with EVALSHA. */
export function loadLua(name: string): LuaScript {
  const source = readLua(name);
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    name,
    source,
    sha,
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        // A restarted or flushed-script Redis forgets the SHA; EVAL runs it and caches it again.
        if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
          return redis.eval(source, keys.length, ...keys, ...args);
        }
        throw error;
      }
    },
  };
}

/** The optional time override the scripts take as their last argument ('' = Redis TIME). */
export function timeArg(now: (() => number) | undefined): string {
  return now ? String(Math.floor(now())) : '';
}

/** Throws unless `value` is a non-negative safe integer (money and counts are never fractional). */
export function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}
