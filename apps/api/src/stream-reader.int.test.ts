import {
  createEventStream,
  createKeys,
  createRedis,
  parseNotification,
  type RedisClient,
  type StoredEvent,
  waitForRedis,
} from '@assistant/queue';
import { createTestRedis, type TestRedis, waitUntil } from '@assistant/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStreamReader, type StreamReader } from './stream-reader.ts';

// The reader every SSE stream and long-poll of an API process shares, against real Redis: the
// worker's append script publishes, the reader reads on the shared command connection.
let t: TestRedis;
let keys: ReturnType<typeof createKeys>;
let events: ReturnType<typeof createEventStream>;
const opened: { reader: StreamReader; subscriber: RedisClient }[] = [];
const silent = { warn() {} };
let seq = 0;
const newQueryId = () => `q_${(++seq).toString(16).padStart(32, '0')}${Date.now().toString(16)}`;

beforeAll(async () => {
  t = await createTestRedis('stream-reader');
  keys = createKeys(t.prefix);
  events = createEventStream(t.redis, keys, { ttlSeconds: 60 });
});

afterEach(() => {
  for (const { reader, subscriber } of opened.splice(0)) {
    reader.close();
    subscriber.disconnect();
  }
});

afterAll(async () => {
  await t.cleanup();
});

async function openReader(
  name = `reader-${seq}`,
  unsubscribeAfterMs?: number,
  notifications: (message: string) => ReturnType<typeof parseNotification> = parseNotification,
) {
  const subscriber = createRedis(t.url, 'subscriber', name);
  await waitForRedis(subscriber);
  let reads = 0;
  const reader = createStreamReader({
    readAfter: (queryId, afterId, count) => {
      reads++;
      return events.readAfter(queryId, afterId, count);
    },
    subscriber,
    channelOf: (queryId) => keys.eventsNotify(queryId),
    parseNotification: notifications,
    logger: silent,
    ...(unsubscribeAfterMs === undefined ? {} : { unsubscribeAfterMs }),
  });
  opened.push({ reader, subscriber });
  return { reader, subscriber, reads: () => reads };
}

const token = (text: string) => ({ type: 'token', text }) as const;
const texts = (batch: StoredEvent[] | undefined) =>
  (batch ?? []).map((stored) => (stored.event.type === 'token' ? stored.event.text : stored.event.type));

/** Collects a follower's events until `count` have arrived. */
async function collect(follower: ReturnType<StreamReader['follow']>, count: number): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  while (seen.length < count) {
    const batch = await follower.next(5_000);
    if (batch === undefined) break;
    seen.push(...batch);
  }
  return seen;
}

describe('createStreamReader', () => {
  it('replays a stream from the start, then delivers what is appended later, in order', async () => {
    const { reader } = await openReader();
    const queryId = newQueryId();
    await events.append(queryId, token('a'));
    const follower = reader.follow(queryId, '0');
    expect(texts(await follower.next(5_000))).toEqual(['a']);
    const later = collect(follower, 3);
    for (const text of ['b', 'c', 'd']) await events.append(queryId, token(text));
    expect(texts(await later)).toEqual(['b', 'c', 'd']);
    follower.close();
  });

  it('resumes after the given id, exclusive', async () => {
    const { reader } = await openReader();
    const queryId = newQueryId();
    const first = await events.append(queryId, token('one'));
    await events.append(queryId, token('two'));
    const follower = reader.follow(queryId, first!);
    expect(texts(await follower.next(5_000))).toEqual(['two']);
    follower.close();
  });

  it('answers [] when nothing arrives in time, and undefined once closed', async () => {
    const { reader } = await openReader();
    const follower = reader.follow(newQueryId(), '0');
    expect(await follower.next(50)).toEqual([]);
    const pending = follower.next(10_000);
    follower.close();
    expect(await pending).toBeUndefined();
  });

  it('ends every follower when the reader closes, and starts none after', async () => {
    const { reader } = await openReader();
    const followers = Array.from({ length: 5 }, () => reader.follow(newQueryId(), '0'));
    const pending = followers.map((f) => f.next(10_000));
    reader.close();
    expect(reader.closing).toBe(true);
    expect(await Promise.all(pending)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(await reader.follow(newQueryId(), '0').next(10)).toBeUndefined();
  });

  it('reads once per append for many followers of one query at one position, when notifications carry no entry', async () => {
    const { reader, reads } = await openReader(`reader-${seq}`, undefined, () => undefined);
    const queryId = newQueryId();
    await events.append(queryId, token('a'));
    const followers = Array.from({ length: 10 }, () => reader.follow(queryId, '0'));
    for (const follower of followers) expect(texts(await follower.next(5_000))).toEqual(['a']);
    const before = reads();
    await events.append(queryId, token('b'));
    for (const follower of followers) expect(texts(await follower.next(5_000))).toEqual(['b']);
    expect(reads() - before).toBe(1);
    for (const follower of followers) follower.close();
  });

  it('hands a caught-up follower the entry its notification carries, without a read', async () => {
    const { reader, reads } = await openReader();
    const queryId = newQueryId();
    await events.append(queryId, token('a'));
    const followers = Array.from({ length: 3 }, () => reader.follow(queryId, '0'));
    for (const follower of followers) expect(texts(await follower.next(5_000))).toEqual(['a']);
    const before = reads();
    const ids: string[] = [];
    for (const text of ['b', 'c', 'd']) ids.push((await events.append(queryId, token(text)))!);
    for (const follower of followers) {
      const seen = await collect(follower, 3);
      expect(texts(seen)).toEqual(['b', 'c', 'd']);
      expect(seen.map((stored) => stored.id)).toEqual(ids); // the stream's own ids: resume stays exact
    }
    expect(reads() - before).toBe(0);
    for (const follower of followers) follower.close();
  });

  it('reads what it missed when a notification is lost: the next one does not follow its cursor', async () => {
    const { reader, reads } = await openReader();
    const queryId = newQueryId();
    const follower = reader.follow(queryId, '0');
    expect(await follower.next(50)).toEqual([]);
    const before = reads();
    // An entry whose notification never came (written without the append script, which publishes).
    const unheard = await t.redis.xadd(
      keys.events(queryId),
      '*',
      'type',
      'token',
      'data',
      JSON.stringify(token('1')),
    );
    const heard = await events.append(queryId, token('2'));
    const seen = await collect(follower, 2);
    expect(seen.map((stored) => stored.id)).toEqual([unheard, heard]);
    expect(texts(seen)).toEqual(['1', '2']);
    expect(reads() - before).toBe(1);
    follower.close();
  });

  it('shares its subscriber connection: closing leaves the other channels on it subscribed', async () => {
    const { reader, subscriber } = await openReader();
    const other = `${t.prefix}other-channel`;
    await subscriber.subscribe(other);
    const received: string[] = [];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === other) received.push(message);
    });
    const follower = reader.follow(newQueryId(), '0');
    await follower.next(50);
    reader.close();
    await t.redis.publish(other, 'still here');
    await waitUntil(() => received.length === 1, { what: 'the other channel message' });
    expect(received).toEqual(['still here']);
    expect(subscriber.status).toBe('ready');
  });

  it('unsubscribes the channels of ended streams together after a while; one followed again meanwhile stays subscribed', async () => {
    const { reader, subscriber } = await openReader(`reader-leave-${seq}`, 300);
    const sent: string[][] = [];
    const unsubscribe = subscriber.unsubscribe.bind(subscriber);
    subscriber.unsubscribe = ((...channels: string[]) => {
      sent.push(channels);
      return unsubscribe(...channels);
    }) as typeof subscriber.unsubscribe;
    const ids = [newQueryId(), newQueryId(), newQueryId()];
    const channels = ids.map((id) => keys.eventsNotify(id));
    const subscribed = async () => new Set((await t.redis.pubsub('CHANNELS', `${t.prefix}*`)) as string[]);
    const followers = ids.map((id) => reader.follow(id, '0'));
    await waitUntil(
      async () => {
        const now = await subscribed();
        return channels.every((channel) => now.has(channel));
      },
      { what: 'three channels subscribed' },
    );
    for (const follower of followers) follower.close();
    expect(sent).toEqual([]); // not yet: the interval has not passed
    // Followed again meanwhile: its channel is still subscribed, so it reads at once and hears appends.
    const again = reader.follow(ids[0]!, '0');
    await events.append(ids[0]!, token('after the resume'));
    expect(texts(await collect(again, 1))).toEqual(['after the resume']);
    await waitUntil(() => sent.length === 1, { what: 'the batched unsubscribe', timeoutMs: 2_000 });
    expect(new Set(sent[0])).toEqual(new Set(channels.slice(1)));
    const left = await waitUntil(
      async () => {
        const now = await subscribed();
        return !now.has(channels[1]!) && !now.has(channels[2]!) && now;
      },
      { what: 'the two ended channels unsubscribed' },
    );
    expect(left.has(channels[0]!)).toBe(true);
    again.close();
  });

  it('reads a stream followed again while its subscription is still on its way only once it is active', async () => {
    const subscriber = createRedis(t.url, 'subscriber', `reader-held-${seq}`);
    await waitForRedis(subscriber);
    // SUBSCRIBE is held back until released, as a slow connection would.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reader = createStreamReader({
      readAfter: (queryId, afterId, count) => events.readAfter(queryId, afterId, count),
      subscriber: {
        subscribe: async (...channels) => {
          await held;
          return subscriber.subscribe(...channels);
        },
        unsubscribe: (...channels) => subscriber.unsubscribe(...channels),
        on: (event: 'message' | 'ready', listener: (...args: string[]) => void) =>
          subscriber.on(event, listener),
      },
      channelOf: (queryId) => keys.eventsNotify(queryId),
      parseNotification,
      logger: silent,
    });
    opened.push({ reader, subscriber });
    const queryId = newQueryId();
    reader.follow(queryId, '0').close(); // its channel is leaving, its SUBSCRIBE not yet sent
    const again = reader.follow(queryId, '0');
    const id = await events.append(queryId, token('while subscribing')); // nobody hears this one
    release();
    const [stored] = (await again.next(60_000)) ?? [];
    expect(stored?.id).toBe(id);
    again.close();
  });

  it('serves many streams over its one subscriber connection', async () => {
    const name = `reader-many-${Date.now()}`;
    const { reader } = await openReader(name);
    const ids = Array.from({ length: 300 }, () => newQueryId());
    const followers = ids.map((id) => reader.follow(id, '0'));
    expect(reader.followed).toBe(300);
    const delivered = Promise.all(followers.map((f) => collect(f, 2)));
    await Promise.all(ids.map((id) => events.append(id, token(`first ${id}`))));
    await Promise.all(ids.map((id) => events.append(id, token(`second ${id}`))));
    const batches = await delivered;
    batches.forEach((seen, i) => {
      expect(texts(seen)).toEqual([`first ${ids[i]}`, `second ${ids[i]}`]);
    });
    const clients = (await t.redis.client('LIST')) as string;
    expect(clients.split('\n').filter((line) => line.includes(`name=${name} `))).toHaveLength(1);
    for (const follower of followers) follower.close();
    expect(reader.followed).toBe(0);
  });

  it('shares one stream between two followers at different positions', async () => {
    const { reader } = await openReader();
    const queryId = newQueryId();
    const first = await events.append(queryId, token('1'));
    const fromStart = reader.follow(queryId, '0');
    // Follows while the first follower's subscription is on its way: its first read waits for it,
    // so the next append's notification reaches it (no heartbeat re-read: that is a minute here).
    const fromFirst = reader.follow(queryId, first!);
    await events.append(queryId, token('2'));
    expect(texts(await collect(fromStart, 2))).toEqual(['1', '2']);
    expect(texts(await fromFirst.next(60_000))).toEqual(['2']);
    fromFirst.close();
    await events.append(queryId, token('3'));
    expect(texts(await collect(fromStart, 1))).toEqual(['3']);
    fromStart.close();
  });

  it('loses no event when its subscriber connection is killed and comes back', async () => {
    const name = `reader-kill-${Date.now()}`;
    const { reader, subscriber } = await openReader(name);
    const queryId = newQueryId();
    const follower = reader.follow(queryId, '0');
    await events.append(queryId, token('before'));
    expect(texts(await collect(follower, 1))).toEqual(['before']);

    const line = ((await t.redis.client('LIST')) as string)
      .split('\n')
      .find((l) => l.includes(`name=${name} `));
    const clientId = line?.match(/\bid=(\d+)/)?.[1];
    expect(clientId).toBeDefined();
    await t.redis.client('KILL', 'ID', clientId!);
    // Appended while the notifications cannot arrive: the re-read after the reconnect finds it.
    await events.append(queryId, token('during'));
    await waitUntil(() => subscriber.status === 'ready', {
      what: 'subscriber reconnected',
      timeoutMs: 10_000,
    });
    const after = collect(follower, 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await events.append(queryId, token('after'));
    expect(texts(await after)).toEqual(['during', 'after']);
    follower.close();
  });
});
