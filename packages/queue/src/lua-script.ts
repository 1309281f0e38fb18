import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.ts';

const INCLUDE = /^-- @include ([\w.-]+)$/gm;

function readLua(file: URL): string {
  const source = readFileSync(file, 'utf8');
  // `-- @include x.lua` inlines a helper file beside this one, so each script stays one
  // self-contained call (Redis has no `require`).
  return source.replace(INCLUDE, (_line, name: string) => readLua(new URL(name, file)));
}

/** A Lua script read from a `.lua` file once, run by SHA with a fallback to its source. */
export type LuaScript = {
  /** The file name, for logs and errors. */
  name: string;
  /** The source with every `-- @include` inlined. */
  source: string;
  /** SHA-1 of `source`, as EVALSHA takes it. */
  sha: string;
  /** Runs the script: EVALSHA, and EVAL once when Redis does not know the SHA (NOSCRIPT). */
  run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | Buffer | number)[],
  ): Promise<unknown>;
};

/**
 * Reads a `.lua` file (inlining its `-- @include` lines, resolved beside it) and prepares it to
 * run with EVALSHA. Call it at module load: a missing file fails at start-up, not mid-request.
 *
 * @example
 * const setIfGreater = loadLua(new URL('./lua/set-if-greater.lua', import.meta.url));
 * await setIfGreater.run(redis, [key], [generation, ttlSeconds]);
 */
export function loadLua(file: URL): LuaScript {
  const source = readLua(file);
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    name: file.pathname.slice(file.pathname.lastIndexOf('/') + 1),
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
