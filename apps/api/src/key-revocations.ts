import type { Keys } from '@assistant/queue';

/** A cache of API key lookups that revocations reach (the user-auth middleware is one). */
export type RevocableKeyCache = {
  /** Drops one key, by its SHA-256 hex (the stored `key_hash`). */
  evict(keyHash: string): void;
  /** Drops every key: after a gap in which a revocation may have been missed. */
  clear(): void;
};

/** The connection revocations are published on (the API's command connection will do). */
export type RevocationPublisher = { publish(channel: string, message: string): Promise<unknown> };

/** A connection of its own: once subscribed, a Redis connection runs no other command. */
export type RevocationSubscriber = {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'close', listener: () => void): unknown;
  off(event: 'message', listener: (channel: string, message: string) => void): unknown;
  off(event: 'ready' | 'close', listener: () => void): unknown;
  disconnect(): void;
};

/**
 * Makes a key revocation take effect at once in every API process: `publish` evicts the key
 * here and PUBLISHes its hash; every process's subscriber evicts it on receipt.
 *
 * Pub/sub delivers at most once: a message sent while a subscriber is disconnected is lost. So
 * while the subscription is down the cache is not trusted (`isLive()` is false: every request
 * looks its key up in Postgres, which sees every revocation), and once the subscription is back
 * the whole cache is dropped. The cost is a burst of key lookups after each Redis reconnect; the
 * gain is that no revocation outlives a missed message. Takes over `subscriber` (`close` ends it).
 */
export async function createKeyRevocations(
  publisher: RevocationPublisher,
  subscriber: RevocationSubscriber,
  keys: Pick<Keys, 'keyRevocations'>,
  logger: { warn(fields: Record<string, unknown>, message: string): void },
) {
  const channel = keys.keyRevocations();
  const caches: RevocableKeyCache[] = [];
  let live = false;

  function onMessage(from: string, keyHash: string) {
    if (from !== channel) return;
    for (const cache of caches) cache.evict(keyHash);
  }
  function onClose() {
    live = false;
  }
  // ioredis re-subscribes by itself after a reconnect, but says nothing when that is done:
  // subscribing again (harmless) gives a reply after which no message can be missed.
  function onReady() {
    subscriber.subscribe(channel).then(
      () => {
        for (const cache of caches) cache.clear();
        live = true;
      },
      // The connection dropped again: its next 'ready' tries again.
      (err: Error) => logger.warn({ err: err.message, channel }, 'key revocation resubscribe failed'),
    );
  }

  subscriber.on('message', onMessage);
  subscriber.on('close', onClose);
  subscriber.on('ready', onReady);
  await subscriber.subscribe(channel);
  live = true;

  return {
    /** Evicts a revoked key here at once and tells every API process (call after the DB revoke). */
    async publish(keyHash: string): Promise<void> {
      for (const cache of caches) cache.evict(keyHash);
      await publisher.publish(channel, keyHash);
    },
    /** Registers a cache that revocations (and the clears after a reconnect) reach. */
    onRevoked(cache: RevocableKeyCache): void {
      caches.push(cache);
    },
    /** Whether the subscription is up, i.e. whether a cached key can be trusted now. */
    isLive(): boolean {
      return live;
    },
    /** Stops listening and ends the subscriber connection. */
    close(): void {
      live = false;
      subscriber.off('message', onMessage);
      subscriber.off('close', onClose);
      subscriber.off('ready', onReady);
      subscriber.disconnect();
    },
  };
}

/** What {@link createKeyRevocations} returns. */
export type KeyRevocations = Awaited<ReturnType<typeof createKeyRevocations>>;
