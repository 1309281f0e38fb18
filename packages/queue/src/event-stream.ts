import { QueryEvent } from '@assistant/contracts';
import type { Keys } from './keys.ts';
import { loadLua } from './lua-script.ts';
import type { RedisClient } from './redis.ts';

/** An event with the Redis Stream id it was stored under (used as the SSE event id). */
export type StoredEvent = { id: string; event: QueryEvent };

/** What an append's notification carries: the entry, and the id of the one before it. */
export type NotifiedEvent = StoredEvent & { previousId: string };

/** Options of {@link createEventStream}. */
export type EventStreamOptions = {
  /** Seconds a stream lives after its last event. @defaultValue 86400 */
  ttlSeconds: number;
  /** Upper bound of entries per stream (approximate trim), against runaway producers. @defaultValue 20000 */
  maxLength?: number;
};

// Appends unless the stream has ended or another run owns it; contract in the file's header.
const guardedAppend = loadLua(new URL('./lua/guarded-append.lua', import.meta.url));

// Appended right after a claiming run's `started` when an earlier run already wrote to the
// stream (a rescued or re-enqueued job): a client discards the tokens it has so far.
// Sent as JSON with every claiming append: stringified once.
const TAKEOVER = JSON.stringify({
  type: 'restart',
  reason: 'worker lost; answering again',
} satisfies QueryEvent);

/** One stream entry as XRANGE returns it: id and flat field/value list. */
type StreamEntry = [id: string, fields: string[]];

function parseEntries(entries: StreamEntry[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (const [id, fields] of entries) {
    const raw = fields[fields.indexOf('data') + 1];
    if (raw === undefined) continue;
    const parsed = QueryEvent.safeParse(JSON.parse(raw));
    // An entry we cannot read is skipped rather than breaking every reader of the stream.
    if (parsed.success) out.push({ id, event: parsed.data });
  }
  return out;
}

/**
 * The entry an append notification carries (`guarded-append.lua`: new id, the previous entry's
 * id or `0`, the event JSON, one per line), or `undefined` for a message that carries none (a
 * takeover's, which only says "read again") or that cannot be read; the reader then reads the
 * stream instead.
 */
export function parseNotification(message: string): NotifiedEvent | undefined {
  const idEnd = message.indexOf('\n');
  if (idEnd < 0) return undefined;
  const previousEnd = message.indexOf('\n', idEnd + 1);
  if (previousEnd < 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(message.slice(previousEnd + 1));
  } catch {
    return undefined;
  }
  const parsed = QueryEvent.safeParse(json);
  if (!parsed.success) return undefined;
  return {
    id: message.slice(0, idEnd),
    previousId: message.slice(idEnd + 1, previousEnd),
    event: parsed.data,
  };
}

/**
 * The per-query event log on Redis Streams: the worker appends, the API replays and tails.
 * Replay from an id is exclusive, so resuming with `Last-Event-ID` has no gap and no duplicate.
 */
export function createEventStream(redis: RedisClient, keys: Keys, options: EventStreamOptions) {
  const maxLength = options.maxLength ?? 20_000;
  return {
    /**
     * Appends one event and refreshes the stream's TTL; returns its id, or `undefined` when the
     * append is refused: the stream already ended (`done`/`error`), or `owner` is given and another
     * run owns the stream now (a worker that lost its job to a rescuer must not write on).
     * `owner.claim` makes this run the owner (its `started` event); `owner.seq` numbers a run's
     * events from 1, so an append re-sent after a reconnect is written once. A claim on a stream
     * an earlier run wrote to also appends a `restart` after this event (one round trip). An
     * owner check that finds no owner recorded (Redis lost it) re-claims instead of refusing.
     */
    async append(
      queryId: string,
      event: QueryEvent,
      owner?: { token: string; claim?: boolean; seq?: number },
    ): Promise<string | undefined> {
      // Sent by SHA (EVALSHA, falling back to EVAL once): a token append costs no script upload.
      const reply = await guardedAppend.run(
        redis,
        [keys.events(queryId), keys.eventsOwner(queryId)],
        [
          owner?.token ?? '',
          owner?.claim ? '1' : '0',
          owner?.seq ?? 0,
          event.type,
          JSON.stringify(event),
          maxLength,
          options.ttlSeconds,
          keys.eventsNotify(queryId),
          TAKEOVER,
        ],
      );
      return typeof reply === 'string' ? reply : undefined;
    },

    /** Events after `afterId` (exclusive; `'0'` for all), oldest first. */
    async readAfter(queryId: string, afterId: string, count = 1000): Promise<StoredEvent[]> {
      const start = afterId === '0' ? '-' : `(${afterId}`;
      // A command of its own, not an explicit pipeline: on the API's command connection the reads
      // of one event-loop turn (many tailed streams, notified together) leave in one write anyway
      // (`coalesceWrites`), and an ioredis pipeline costs about 40 µs to build on a connection
      // BullMQ has defined its 52 scripts on (each is copied onto the pipeline). A cluster client
      // routes each read to its stream's node.
      return parseEntries(await redis.xrange(keys.events(queryId), start, '+', 'COUNT', count));
    },

    /** Deletes a query's stream (used when an enqueue is rolled back). */
    async remove(queryId: string): Promise<void> {
      await redis.del(keys.events(queryId), keys.eventsOwner(queryId));
    },
  };
}

/** The event stream's interface. */
export type EventStream = ReturnType<typeof createEventStream>;
