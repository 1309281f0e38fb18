// Shared by this package's integration tests (not exported).
import { Redis } from 'ioredis';

/** Opens `count` separate connections, as that many API replicas or workers would hold. */
export function openConnections(url: string, count: number): Redis[] {
  return Array.from({ length: count }, () => new Redis(url, { maxRetriesPerRequest: 3 }));
}

/** Every key under `prefix` with its PTTL (-1 = no TTL, -2 = gone). */
export async function keyTtls(redis: Redis, prefix: string): Promise<Map<string, number>> {
  const ttls = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of found) ttls.set(key, await redis.pttl(key));
  } while (cursor !== '0');
  return ttls;
}

/** A settable test clock, passed as the scripts' time override. */
export function testClock(startMs: number) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    set: (ms: number) => {
      nowMs = ms;
    },
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}
