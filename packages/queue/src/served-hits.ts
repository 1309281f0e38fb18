import type { Keys } from './keys.ts';
import { loadLua } from './lua-script.ts';
import type { RedisClient } from './redis.ts';

const ackScript = loadLua(new URL('./lua/served-hit-ack.lua', import.meta.url));

/** The consumer group of the processes that store served hits in Postgres. */
export const SERVED_HITS_GROUP = 'writers';

/** What a withdrawn hit's row copy holds instead of the row. */
const WITHDRAWN = 'withdrawn';

/** One served hit in the log: its entry id, query id and row JSON. */
export type ServedHitEntry = { entryId: string; queryId: string; row: string };

/**
 * A served hit as the admission script records it when it admits the hit (`AdmitInput.record`
 * of `@assistant/limits`): the log, the row copy's key, the row JSON and the copy's TTL.
 */
export type ServedHitRecord = { log: string; copy: string; value: string; ttlMs: number };

/**
 * Cache hits served before Postgres has their rows (write-behind): the admission script that
 * counts a hit appends its row (JSON, {@link ServedHitRecord}) to a Redis Stream and keeps a
 * readable copy for `GET /v1/queries/:id`; writers
 * (every API process, {@link createServedHitsReader}) store the log in Postgres in batches.
 * A hit is served only once it is in the log, so none is lost with a process; Redis' own
 * durability (AOF) is what it rests on, as for the queue.
 */
export function createServedHits(redis: RedisClient, keys: Keys, options: { rowTtlMs: number }) {
  return {
    /** What the admission of a hit records for it, in the same call (see {@link ServedHitRecord}). */
    recordOf(queryId: string, row: string): ServedHitRecord {
      return { log: keys.servedHits(), copy: keys.servedRow(queryId), value: row, ttlMs: options.rowTtlMs };
    },
    /** The row JSON of a served hit Postgres may not hold yet; `undefined` once expired, withdrawn or unknown. */
    async findRow(queryId: string): Promise<string | undefined> {
      // A hit an older release served sits in the legacy slot until a writer stores it.
      const row =
        (await redis.get(keys.servedRow(queryId))) ?? (await redis.get(keys.legacyServedRow(queryId)));
      return row === null || row === WITHDRAWN ? undefined : row;
    },
    /**
     * Takes back a hit whose reply never went out (its submit passed its deadline): its row copy
     * becomes a tombstone the writers skip. The caller removes a row a writer already stored.
     */
    async withdraw(queryId: string): Promise<void> {
      await redis.set(keys.servedRow(queryId), WITHDRAWN, 'PX', options.rowTtlMs);
    },
  };
}

/** The producer side's interface. */
export type ServedHits = ReturnType<typeof createServedHits>;

type RawEntry = [id: string, fields: string[]];

function toEntries(raw: RawEntry[] | null | undefined): ServedHitEntry[] {
  const entries: ServedHitEntry[] = [];
  for (const [entryId, fields] of raw ?? []) {
    // An entry deleted meanwhile comes back with no fields (row ''): nothing to store, only to ack.
    if (!fields) {
      entries.push({ entryId, queryId: '', row: '' });
      continue;
    }
    const value = (name: string) => {
      const at = fields.indexOf(name);
      return at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
    };
    entries.push({ entryId, queryId: value('id') ?? '', row: value('row') ?? '' });
  }
  return entries;
}

/**
 * One consumer of the served-hits log in the writers' group. `redis` is its own connection:
 * `read` blocks it. Entries stay pending until `ack`; those of a consumer that died are taken
 * over with `claimStale`. `log: 'legacy'` reads the log of older releases (see `keys.legacyServedHits`).
 */
export function createServedHitsReader(
  redis: RedisClient,
  keys: Keys,
  consumer: string,
  log: 'current' | 'legacy' = 'current',
) {
  const stream = log === 'current' ? keys.servedHits() : keys.legacyServedHits();
  const rowKey = log === 'current' ? keys.servedRow : keys.legacyServedRow;
  let claimCursor = '0-0';
  /** XREADGROUP from `from` (`>`: new entries; `0`: this consumer's pending ones). */
  async function readGroup(count: number, from: '>' | '0', blockMs?: number): Promise<ServedHitEntry[]> {
    const block = blockMs === undefined ? [] : ['BLOCK', blockMs];
    const reply = (await redis.call(
      'XREADGROUP',
      'GROUP',
      SERVED_HITS_GROUP,
      consumer,
      'COUNT',
      count,
      ...block,
      'STREAMS',
      stream,
      from,
    )) as [string, RawEntry[]][] | null;
    return toEntries(reply?.[0]?.[1]);
  }
  return {
    /**
     * Creates the group (and the stream) unless it exists; returns whether it exists now. The
     * legacy log is never created: absent, there is nothing to drain (`false`).
     */
    async ensureGroup(): Promise<boolean> {
      try {
        if (log === 'current') await redis.xgroup('CREATE', stream, SERVED_HITS_GROUP, '0', 'MKSTREAM');
        else await redis.xgroup('CREATE', stream, SERVED_HITS_GROUP, '0');
      } catch (error) {
        const message = String((error as Error).message);
        if (log === 'legacy' && message.includes('requires the key to exist')) return false;
        if (!message.includes('BUSYGROUP')) throw error;
      }
      return true;
    },
    /** New entries for this consumer, waiting up to `blockMs` for the first (not at all: none). */
    read: (count: number, blockMs?: number) => readGroup(count, '>', blockMs),
    /** Entries this consumer read earlier and has not acknowledged (a batch that failed). */
    readPending: (count: number) => readGroup(count, '0'),
    /** Entries pending for over `minIdleMs` with any consumer (one that died), now this one's. */
    async claimStale(minIdleMs: number, count: number): Promise<ServedHitEntry[]> {
      const [next, raw] = (await redis.xautoclaim(
        stream,
        SERVED_HITS_GROUP,
        consumer,
        minIdleMs,
        claimCursor,
        'COUNT',
        count,
      )) as [string, RawEntry[]];
      claimCursor = next;
      return toEntries(raw);
    },
    /** Which of these hits were withdrawn (their row copies are tombstones): not to be stored. */
    async withdrawn(queryIds: readonly string[]): Promise<Set<string>> {
      if (queryIds.length === 0) return new Set();
      const copies = await redis.mget(queryIds.map((id) => rowKey(id)));
      return new Set(queryIds.filter((_, i) => copies[i] === WITHDRAWN));
    },
    /** Forgets entries Postgres now holds. */
    async ack(entryIds: readonly string[]): Promise<void> {
      if (entryIds.length === 0) return;
      await ackScript.run(redis, [stream], [SERVED_HITS_GROUP, ...entryIds]);
    },
  };
}

/** The consumer side's interface. */
export type ServedHitsReader = ReturnType<typeof createServedHitsReader>;
