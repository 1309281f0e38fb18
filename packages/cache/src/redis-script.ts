import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script run by its SHA (loaded on first use, and again after a SCRIPT FLUSH or restart). */
export type RedisScript = {
  run(redis: Redis, keys: readonly string[], args: readonly (string | Buffer | number)[]): Promise<unknown>;
};

/** Wraps Lua source so each call sends only its SHA once Redis has seen it. */
export function createRedisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
