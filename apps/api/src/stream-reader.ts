import type { NotifiedEvent, StoredEvent } from '@assistant/queue';

/**
 * The connection the reader listens on: once subscribed, a Redis connection runs no other command.
 * It may carry other channels too (the API's key revocations): the reader only subscribes and
 * unsubscribes its own, ignores messages on others, and leaves the connection to its owner.
 */
export type NotificationSubscriber = {
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
};

/** Collaborators of {@link createStreamReader}. */
export type StreamReaderDeps = {
  /** Events after an id (exclusive), oldest first: XRANGE on a shared command connection. */
  readAfter(queryId: string, afterId: string, count: number): Promise<StoredEvent[]>;
  /** A subscribed connection for the append notifications (not closed by the reader). */
  subscriber: NotificationSubscriber;
  /** The channel the worker publishes on after each append to a query's stream. */
  channelOf(queryId: string): string;
  /**
   * The entry a notification carries, if any (`parseNotification` of `@assistant/queue`): a
   * follower whose cursor is the entry before it takes it as it is, without a read.
   */
  parseNotification(message: string): NotifiedEvent | undefined;
  logger: { warn(fields: Record<string, unknown>, message: string): void };
  /**
   * How long a channel nobody follows any more stays subscribed, ms: the channels left within
   * one such interval leave in one UNSUBSCRIBE, and a client that resumes meanwhile finds its
   * channel still subscribed. @defaultValue {@link UNSUBSCRIBE_AFTER_MS}
   */
  unsubscribeAfterMs?: number;
};

/**
 * Default of {@link StreamReaderDeps.unsubscribeAfterMs}. An UNSUBSCRIBE per ended stream was a
 * socket write each (a tenth of an API process's CPU under load, on a host where a write that
 * wakes Redis is costly); batched, a burst of endings is one. Notifications that arrive for a
 * channel on its way out find no follower and are ignored.
 */
export const UNSUBSCRIBE_AFTER_MS = 100;

/** One reader's view of one query's stream, from a position on. */
export type StreamFollower = {
  /**
   * The events after the last ones returned, oldest first: at once if some are waiting, else as
   * soon as some arrive or `timeoutMs` passes (then `[]`). `undefined` once the follower or the
   * whole reader is closed.
   */
  next(timeoutMs: number): Promise<StoredEvent[] | undefined>;
  /** Stops following (idempotent); a pending `next` resolves `undefined`. */
  close(): void;
};

// XRANGE page size: a stream is read to its end, this many entries per command.
const PAGE = 1000;

/** One page of a query's stream after a cursor (exclusive). */
type PageOf = (cursor: string) => Promise<StoredEvent[]>;

type Follower = {
  queryId: string;
  /** Id of the last entry read into `buffer` (exclusive start of the next read). */
  cursor: string;
  buffer: StoredEvent[];
  wake?: () => void;
  reading: boolean;
  /** A notification came while a read was in flight: read again when it ends. */
  again: boolean;
  closed: boolean;
};

/**
 * Every SSE stream and long-poll of an API process reads through this one reader: one subscriber
 * connection for the append notifications (the worker's append script PUBLISHes on the query's
 * channel) plus reads on the shared command connection, instead of a blocking XREAD connection
 * per request. A follower subscribes before its first read (a second follower of a query waits
 * for the same subscription), so no append between the two is missed. A notification carries its
 * entry and the id of the entry before it: a follower at that id takes the entry as it is, any
 * other reads. A lost notification costs latency, never an event: the next one does not follow
 * the cursor and makes a read, every `next` that times out re-reads, and after a reconnect every
 * follower re-reads. An idle follower holds a few hundred bytes and no connection.
 *
 * @example
 * const follower = reader.follow(queryId, lastEventId);
 * const events = await follower.next(15_000); // [] on a heartbeat timeout
 */
export function createStreamReader(deps: StreamReaderDeps) {
  const byQuery = new Map<string, Set<Follower>>();
  const channelToQuery = new Map<string, string>();
  // Channels nobody follows now, still subscribed until the next flush.
  const leaving = new Set<string>();
  // Subscriptions sent and not yet confirmed, by query: a second follower's first read waits too.
  const subscribing = new Map<string, Promise<unknown>>();
  let leaveTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let connectedOnce = false;

  /**
   * Reads a follower's stream to its end. `firstPage`, when given, makes its first read: a page
   * that followers at the same cursor share (see `readAll`).
   */
  async function read(follower: Follower, firstPage?: PageOf): Promise<void> {
    if (follower.reading) {
      follower.again = true;
      return;
    }
    follower.reading = true;
    let pageOf: PageOf = firstPage ?? readPage(follower.queryId);
    try {
      do {
        follower.again = false;
        let page: StoredEvent[];
        do {
          page = await pageOf(follower.cursor);
          pageOf = readPage(follower.queryId);
          if (follower.closed) return;
          const last = page.at(-1);
          if (last) {
            follower.cursor = last.id;
            follower.buffer.push(...page);
            follower.wake?.();
          }
        } while (page.length === PAGE);
      } while (follower.again && !follower.closed);
    } catch (err) {
      // Redis is unreachable: the follower stays, and its next timeout or the reconnect re-reads.
      deps.logger.warn({ err: (err as Error).message, queryId: follower.queryId }, 'event read failed');
    } finally {
      follower.reading = false;
    }
  }

  function readPage(queryId: string): PageOf {
    return (cursor) => deps.readAfter(queryId, cursor, PAGE);
  }

  /**
   * After a notification: every follower of the query reads, and those at the same cursor (ten
   * clients of one question, all caught up) share one XRANGE and its parsed entries. The shared
   * reads all start now, after the append that was notified, so none misses it.
   */
  function readAll(queryId: string): void {
    readSome(queryId, byQuery.get(queryId) ?? []);
  }

  /** {@link readAll} for some of a query's followers. */
  function readSome(queryId: string, followers: Iterable<Follower>): void {
    const pages = new Map<string, Promise<StoredEvent[]>>();
    const shared: PageOf = (cursor) => {
      let page = pages.get(cursor);
      if (!page) {
        page = deps.readAfter(queryId, cursor, PAGE);
        pages.set(cursor, page);
      }
      return page;
    };
    for (const follower of followers) void read(follower, shared);
  }

  /**
   * After a notification that carries its entry: a follower caught up to the entry before it
   * (and not reading) takes it as it is; the others read. Redis publishes in append order, so a
   * follower that took every entry since its last read is exactly where a read would leave it; a
   * lost notification shows as a previous id that is not the cursor, and that follower reads.
   */
  function deliver(queryId: string, notified: NotifiedEvent): void {
    const stored: StoredEvent = { id: notified.id, event: notified.event };
    const behind: Follower[] = [];
    for (const follower of byQuery.get(queryId) ?? []) {
      if (!follower.reading && follower.cursor === notified.previousId) {
        follower.cursor = stored.id;
        follower.buffer.push(stored);
        follower.wake?.();
      } else behind.push(follower);
    }
    if (behind.length > 0) readSome(queryId, behind);
  }

  deps.subscriber.on('message', (channel, message) => {
    // The channel names the query: one map lookup per notification.
    const queryId = channelToQuery.get(channel);
    if (!queryId) return;
    const notified = deps.parseNotification(message);
    if (notified) deliver(queryId, notified);
    else readAll(queryId);
  });
  deps.subscriber.on('ready', () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    // After a reconnect: subscribe again (ioredis does so too, but gives no reply to wait for) and
    // read every stream, for whatever was appended while the notifications could not arrive.
    const channels = [...channelToQuery.keys()];
    if (channels.length > 0) {
      deps.subscriber.subscribe(...channels).catch((err: Error) => {
        deps.logger.warn({ err: err.message }, 'event notifications resubscribe failed');
      });
    }
    for (const queryId of byQuery.keys()) readAll(queryId);
  });
  function remove(follower: Follower): void {
    if (follower.closed) return;
    follower.closed = true;
    follower.wake?.();
    const followers = byQuery.get(follower.queryId);
    if (!followers) return;
    followers.delete(follower);
    if (followers.size > 0) return;
    byQuery.delete(follower.queryId);
    const channel = deps.channelOf(follower.queryId);
    channelToQuery.delete(channel);
    if (closed) return;
    leaving.add(channel);
    leaveTimer ??= setTimeout(unsubscribeLeaving, deps.unsubscribeAfterMs ?? UNSUBSCRIBE_AFTER_MS).unref();
  }

  /**
   * A follower's first read, on a channel another follower subscribed: once that subscription is
   * active. A read before it could miss an append's notification and wait a heartbeat interval.
   */
  function readOnceSubscribed(follower: Follower): void {
    const pending = subscribing.get(follower.queryId);
    if (pending) void pending.then(() => read(follower));
    else void read(follower);
  }

  function unsubscribeLeaving(): void {
    leaveTimer = undefined;
    const channels = [...leaving];
    leaving.clear();
    if (channels.length > 0) deps.subscriber.unsubscribe(...channels).catch(() => {});
  }

  return {
    /**
     * Follows a query's stream from `afterId` (exclusive; `'0'` for the whole stream). Call
     * `close()` when done: a follower holds its channel subscription until then.
     */
    follow(queryId: string, afterId: string): StreamFollower {
      const follower: Follower = {
        queryId,
        cursor: afterId,
        buffer: [],
        reading: false,
        again: false,
        closed: closed,
      };
      if (!closed) {
        let followers = byQuery.get(queryId);
        const channel = deps.channelOf(queryId);
        if (!followers && leaving.delete(channel)) {
          // Followed again before its unsubscribe left: still subscribed (or on its way to be).
          followers = new Set([follower]);
          byQuery.set(queryId, followers);
          channelToQuery.set(channel, queryId);
          readOnceSubscribed(follower);
        } else if (!followers) {
          followers = new Set();
          byQuery.set(queryId, followers);
          channelToQuery.set(channel, queryId);
          // Read once subscribed, so an append between the read and the subscription is not lost;
          // if subscribing fails, the read still runs and the timeouts keep re-reading.
          const subscribed = deps.subscriber.subscribe(channel).catch((err: Error) => {
            deps.logger.warn({ err: err.message, queryId }, 'event notifications subscribe failed');
          });
          subscribing.set(queryId, subscribed);
          followers.add(follower);
          void subscribed.then(() => {
            if (subscribing.get(queryId) === subscribed) subscribing.delete(queryId);
            return read(follower);
          });
        } else {
          followers.add(follower);
          readOnceSubscribed(follower);
        }
      }
      return {
        async next(timeoutMs: number): Promise<StoredEvent[] | undefined> {
          if (follower.buffer.length > 0) return follower.buffer.splice(0);
          if (follower.closed) return undefined;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, Math.max(1, timeoutMs));
            function done() {
              clearTimeout(timer);
              follower.wake = undefined;
              resolve();
            }
            follower.wake = done;
          });
          if (follower.buffer.length > 0) return follower.buffer.splice(0);
          if (follower.closed) return undefined;
          // A quiet interval: read again in case a notification was lost (the result is kept for
          // the next call, so this one answers at once).
          void read(follower);
          return [];
        },
        close: () => remove(follower),
      };
    },

    /** Whether `close` was called: followers end, and no new one starts. */
    get closing(): boolean {
      return closed;
    },

    /** Queries followed now (at least one open SSE stream or long-poll each). */
    get followed(): number {
      return byQuery.size;
    },

    /** Ends every follower (their `next` resolves `undefined`) and unsubscribes their channels. */
    close(): void {
      if (closed) return;
      closed = true;
      clearTimeout(leaveTimer);
      const channels = [...channelToQuery.keys(), ...leaving];
      leaving.clear();
      for (const followers of [...byQuery.values()]) for (const follower of [...followers]) remove(follower);
      if (channels.length > 0) deps.subscriber.unsubscribe(...channels).catch(() => {});
    },
  };
}

/** The stream reader's interface. */
export type StreamReader = ReturnType<typeof createStreamReader>;
