import { type Keys, loadLua, type RedisClient } from '@assistant/queue';
import { answerCacheKeyParts } from './answer-key.ts';
import type { CacheState } from './cache-epochs.ts';
import type { AnswerSettings } from './fingerprint.ts';

const deleteIfEqual = loadLua(new URL('./lua/delete-if-equal.lua', import.meta.url));
const claimMarker = loadLua(new URL('./lua/claim-marker.lua', import.meta.url));

/** Tunables of {@link createSingleFlight}. */
export type SingleFlightOptions = {
  /**
   * Seconds a marker lives. It outlives any sane answer: a failed query's worker releases it, a
   * succeeded one's expires (late identical asks join the answered query meanwhile).
   * @defaultValue 600
   */
  ttlSeconds?: number;
};

/**
 * Single-flight markers: one Redis string per in-flight question naming the query that answers
 * it, so identical questions asked meanwhile share that query (and its stream) instead of
 * starting their own. The API claims and joins; whoever ends the query releases.
 *
 * @example
 * const flightId = flights.idOf(state, query, settings);
 * const leader = await flights.join(userId, flightId);
 * if (!leader && (await flights.claim(userId, flightId, queryId))) enqueue({ flight_id: flightId });
 */
export function createSingleFlight(redis: RedisClient, keys: Keys, options: SingleFlightOptions = {}) {
  const ttlSeconds = options.ttlSeconds ?? 600;
  return {
    /**
     * The flight id of a question. It is the exact answer-cache hash (same user, generation,
     * epochs, tier, normalised text and settings): a question shares a flight exactly when it
     * would share a cached answer.
     */
    idOf(state: CacheState, query: string, settings: AnswerSettings): string {
      return answerCacheKeyParts({ state, query, settings }).hash;
    },

    /**
     * Names `queryId` as the flight's query unless another is named already; true if it now is
     * (also when a re-sent claim finds its own first send's marker).
     */
    async claim(userId: string, flightId: string, queryId: string): Promise<boolean> {
      const reply = await claimMarker.run(
        redis,
        [keys.singleFlight(userId, flightId)],
        [queryId, ttlSeconds],
      );
      return reply === 1;
    },

    /** The query the flight names, if any. */
    async join(userId: string, flightId: string): Promise<string | undefined> {
      return (await redis.get(keys.singleFlight(userId, flightId))) ?? undefined;
    },

    /** Clears the marker if it still names `queryId`; true if it did. */
    async release(userId: string, flightId: string, queryId: string): Promise<boolean> {
      const deleted = await deleteIfEqual.run(redis, [keys.singleFlight(userId, flightId)], [queryId]);
      return deleted === 1;
    },
  };
}

/** The single-flight markers' interface. */
export type SingleFlight = ReturnType<typeof createSingleFlight>;
