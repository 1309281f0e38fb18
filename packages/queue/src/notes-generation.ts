import type { Redis } from 'ioredis';
import type { Keys } from './keys.ts';

// Generations only grow: a late writer must never move one back.
const SET_IF_GREATER = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local proposed = tonumber(ARGV[1])
if proposed > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return proposed
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return current`;

const TTL_SECONDS = 7 * 86_400;

/**
 * Each user's notes generation, mirrored from Postgres (the source of truth, bumped in the same
 * transaction as every note change) into Redis, where the hot path reads it. A missing key is
 * reloaded from Postgres; writes only ever raise it.
 */
export function createNotesGenerations(
  redis: Redis,
  keys: Keys,
  loadFromDb: (userId: string) => Promise<number>,
) {
  async function publish(userId: string, generation: number): Promise<number> {
    const value = await redis.eval(SET_IF_GREATER, 1, keys.notesGeneration(userId), generation, TTL_SECONDS);
    return Number(value);
  }
  return {
    publish,
    /** The current generation: from Redis, else from Postgres (and then cached). */
    async current(userId: string): Promise<number> {
      const cached = await redis.get(keys.notesGeneration(userId));
      if (cached !== null) return Number(cached);
      return publish(userId, await loadFromDb(userId));
    },
  };
}

/** The generations' interface. */
export type NotesGenerations = ReturnType<typeof createNotesGenerations>;
