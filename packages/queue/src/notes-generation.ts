import type { Keys } from './keys.ts';
import { loadLua } from './lua-script.ts';
import type { RedisClient } from './redis.ts';

// Generations only grow: a late writer must never move one back.
const setIfGreater = loadLua(new URL('./lua/set-if-greater.lua', import.meta.url));

const TTL_SECONDS = 7 * 86_400;

/**
 * Each user's notes generation, mirrored from Postgres (the source of truth, bumped in the same
 * transaction as every note change) into Redis, where the hot path reads it. A missing key is
 * reloaded from Postgres; writes only ever raise it.
 */
export function createNotesGenerations(
  redis: RedisClient,
  keys: Keys,
  loadFromDb: (userId: string) => Promise<number>,
) {
  async function publish(userId: string, generation: number): Promise<number> {
    const value = await setIfGreater.run(redis, [keys.notesGeneration(userId)], [generation, TTL_SECONDS]);
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
