import type { QueryEvent } from '@assistant/contracts';
import type { TestRedis } from '@assistant/testing';
import { createTestRedis, waitUntil } from '@assistant/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStream } from './event-stream.ts';
import { createEventStream, parseNotification } from './event-stream.ts';
import type { Keys } from './keys.ts';
import { createKeys } from './keys.ts';

const TTL_SECONDS = 600;

let t: TestRedis;
let keys: Keys;
let stream: EventStream;
let counter = 0;

beforeAll(async () => {
  t = await createTestRedis('event-stream');
  keys = createKeys(t.prefix);
  stream = createEventStream(t.redis, keys, { ttlSeconds: TTL_SECONDS });
});
afterAll(async () => {
  await t?.cleanup();
});

/** A query id of one test's own, so tests share no stream. */
function newQueryId(): string {
  counter += 1;
  return `q_${counter}`;
}

async function types(queryId: string): Promise<string[]> {
  return (await stream.readAfter(queryId, '0')).map((stored) => stored.event.type);
}

describe('createEventStream: the guarded append', () => {
  it('returns the new entry id, and readAfter gives the event back under it', async () => {
    const queryId = newQueryId();
    const id = await stream.append(queryId, { type: 'queued', query_id: queryId });
    expect(id).toMatch(/^\d+-\d+$/);
    expect(await stream.readAfter(queryId, '0')).toEqual([
      { id, event: { type: 'queued', query_id: queryId } },
    ]);
  });

  it('refuses an append by a run whose token does not own the stream', async () => {
    const queryId = newQueryId();
    expect(
      await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 }),
    ).toBeDefined();
    expect(
      await stream.append(queryId, { type: 'token', text: 'from B' }, { token: 'B', seq: 2 }),
    ).toBeUndefined();
    expect(
      await stream.append(queryId, { type: 'token', text: 'from A' }, { token: 'A', seq: 2 }),
    ).toBeDefined();
    expect((await stream.readAfter(queryId, '0')).map((stored) => stored.event)).toEqual([
      { type: 'started', attempt: 1 },
      { type: 'token', text: 'from A' },
    ]);
  });

  it('lets a rescuing run claim the stream, after which the old owner is refused', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
    expect(
      await stream.append(queryId, { type: 'started', attempt: 2 }, { token: 'B', claim: true, seq: 1 }),
    ).toBeDefined();
    expect(
      await stream.append(queryId, { type: 'token', text: 'late A' }, { token: 'A', seq: 2 }),
    ).toBeUndefined();
    expect(await stream.append(queryId, { type: 'token', text: 'B' }, { token: 'B', seq: 2 })).toBeDefined();
    // The takeover announces itself: readers discard the tokens of the earlier run.
    expect(await types(queryId)).toEqual(['started', 'started', 'restart', 'token']);
  });

  it('announces a takeover with a restart right after the new started, and none for a first claim', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'queued', query_id: queryId });
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
    await stream.append(queryId, { type: 'token', text: 'half an answer' }, { token: 'A', seq: 2 });
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'B', claim: true, seq: 1 });
    expect((await stream.readAfter(queryId, '0')).map((stored) => stored.event)).toEqual([
      { type: 'queued', query_id: queryId },
      { type: 'started', attempt: 1 },
      { type: 'token', text: 'half an answer' },
      { type: 'started', attempt: 1 },
      { type: 'restart', reason: 'worker lost; answering again' },
    ]);
  });

  it('lets the run go on when its owner record was lost (Redis restarted empty), refusing only a real other owner', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
    await t.redis.del(keys.eventsOwner(queryId));
    expect(await stream.append(queryId, { type: 'token', text: 'on' }, { token: 'A', seq: 2 })).toMatch(
      /^\d+-\d+$/,
    );
    // The re-claim recorded A again: another token is still refused, a re-send is still a duplicate.
    expect(
      await stream.append(queryId, { type: 'token', text: 'x' }, { token: 'B', seq: 3 }),
    ).toBeUndefined();
    expect(await stream.append(queryId, { type: 'token', text: 'on' }, { token: 'A', seq: 2 })).toBe('dup');
    expect(await types(queryId)).toEqual(['started', 'token']);
  });

  it.each(['done', 'error'] as const)(
    'refuses every append once the stream ended with %s',
    async (ending) => {
      const queryId = newQueryId();
      await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
      const terminal: QueryEvent =
        ending === 'done'
          ? {
              type: 'done',
              result: {
                outcome: 'answered',
                answer: 'a',
                sources: [],
                model: 'm',
                provider: 'p',
                usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
                cost_usd: 0,
                truncated: false,
              },
            }
          : { type: 'error', error: { code: 'upstream_unavailable', message: 'down' } };
      expect(await stream.append(queryId, terminal, { token: 'A', seq: 2 })).toBeDefined();

      expect(
        await stream.append(queryId, { type: 'token', text: 'x' }, { token: 'A', seq: 3 }),
      ).toBeUndefined();
      expect(
        await stream.append(queryId, { type: 'started', attempt: 2 }, { token: 'B', claim: true, seq: 1 }),
      ).toBeUndefined();
      // No owner check at all (the API's `queued`, a re-announce) is refused too.
      expect(await stream.append(queryId, { type: 'queued', query_id: queryId })).toBeUndefined();
      expect(await types(queryId)).toEqual(['started', ending]);
    },
  );

  it('writes a re-sent append with the same seq once, reporting it as a duplicate', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
    const first = await stream.append(queryId, { type: 'token', text: 'hello' }, { token: 'A', seq: 2 });
    const again = await stream.append(queryId, { type: 'token', text: 'hello' }, { token: 'A', seq: 2 });
    // A lower seq is a re-send of an even older command.
    const older = await stream.append(queryId, { type: 'token', text: 'stale' }, { token: 'A', seq: 1 });
    expect(first).toMatch(/^\d+-\d+$/);
    // 'dup' is a string reply, not an entry id: the caller sees something defined and moves on.
    expect(again).toBe('dup');
    expect(older).toBe('dup');
    expect((await stream.readAfter(queryId, '0')).map((stored) => stored.event)).toEqual([
      { type: 'started', attempt: 1 },
      { type: 'token', text: 'hello' },
    ]);
  });

  it('treats a second claim by the same token as a duplicate and writes no second started', async () => {
    const queryId = newQueryId();
    const first = await stream.append(
      queryId,
      { type: 'started', attempt: 1 },
      { token: 'A', claim: true, seq: 1 },
    );
    const again = await stream.append(
      queryId,
      { type: 'started', attempt: 1 },
      { token: 'A', claim: true, seq: 1 },
    );
    expect(first).toMatch(/^\d+-\d+$/);
    expect(again).toBe('dup');
    expect(await types(queryId)).toEqual(['started']);
  });

  it('sets the TTL on both the stream and its owner key', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
    const streamTtl = await t.redis.ttl(keys.events(queryId));
    const ownerTtl = await t.redis.ttl(keys.eventsOwner(queryId));
    expect(streamTtl).toBeGreaterThan(0);
    expect(streamTtl).toBeLessThanOrEqual(TTL_SECONDS);
    expect(ownerTtl).toBeGreaterThan(0);
    expect(ownerTtl).toBeLessThanOrEqual(TTL_SECONDS);
  });

  it('removes the stream and its owner with remove()', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'A', claim: true, seq: 1 });
    await stream.remove(queryId);
    expect(await t.redis.exists(keys.events(queryId), keys.eventsOwner(queryId))).toBe(0);
  });
});

/** A subscriber on a query's notification channel, and the messages it heard so far. */
async function listen(queryId: string) {
  const subscriber = new Redis(t.url, { maxRetriesPerRequest: 3 });
  const heard: string[] = [];
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === keys.eventsNotify(queryId)) heard.push(message);
  });
  await subscriber.subscribe(keys.eventsNotify(queryId));
  return { heard, subscriber };
}

describe('createEventStream: reading', () => {
  it('readAfter is exclusive of the given id', async () => {
    const queryId = newQueryId();
    const ids: string[] = [];
    for (const text of ['a', 'b', 'c']) {
      const id = await stream.append(queryId, { type: 'token', text });
      ids.push(id!);
    }
    const afterFirst = await stream.readAfter(queryId, ids[0]!);
    expect(afterFirst.map((stored) => stored.id)).toEqual(ids.slice(1));
    expect(afterFirst.map((stored) => stored.event)).toEqual([
      { type: 'token', text: 'b' },
      { type: 'token', text: 'c' },
    ]);
    expect(await stream.readAfter(queryId, ids[2]!)).toEqual([]);
  });

  it('reads a count-capped page, several streams at once each with its own entries, and nothing of a stream that does not exist', async () => {
    const queries = [newQueryId(), newQueryId()];
    const written = await Promise.all(
      queries.map(async (queryId, q) => {
        const ids: string[] = [];
        for (let n = 0; n < 3; n++)
          ids.push((await stream.append(queryId, { type: 'token', text: `${q}-${n}` }))!);
        return ids;
      }),
    );
    // Issued in one turn, as an API process's followers read after one worker batch.
    const [first, capped, none] = await Promise.all([
      stream.readAfter(queries[0]!, '0'),
      stream.readAfter(queries[1]!, written[1]![0]!, 1),
      stream.readAfter(newQueryId(), '0'),
    ]);
    expect(first.map((stored) => stored.id)).toEqual(written[0]);
    expect(capped).toEqual([{ id: written[1]![1], event: { type: 'token', text: '1-1' } }]);
    expect(none).toEqual([]);
  });

  it('fails a read at once when the connection is down (no offline queue, as the API connects)', async () => {
    // Nothing listens on port 1: the connection never becomes ready.
    const down = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, retryStrategy: () => null });
    down.on('error', () => {});
    const started = performance.now();
    const reads = [newQueryId(), newQueryId()].map((queryId) =>
      createEventStream(down, keys, { ttlSeconds: TTL_SECONDS }).readAfter(queryId, '0'),
    );
    for (const read of reads) await expect(read).rejects.toThrow(/enableOfflineQueue/);
    expect(performance.now() - started).toBeLessThan(500);
    down.disconnect();
  });

  it('skips an entry it cannot parse instead of failing the reader', async () => {
    const queryId = newQueryId();
    await stream.append(queryId, { type: 'token', text: 'ok' });
    await t.redis.xadd(keys.events(queryId), '*', 'type', 'token', 'data', JSON.stringify({ type: 'bogus' }));
    await stream.append(queryId, { type: 'token', text: 'also ok' });
    expect((await stream.readAfter(queryId, '0')).map((stored) => stored.event)).toEqual([
      { type: 'token', text: 'ok' },
      { type: 'token', text: 'also ok' },
    ]);
  });

  it('publishes every stored append on the query channel with the entry before it, and nothing for a refused one', async () => {
    const queryId = newQueryId();
    const { heard, subscriber } = await listen(queryId);
    try {
      const first = await stream.append(queryId, { type: 'token', text: 'one' });
      const error: QueryEvent = { type: 'error', error: { code: 'upstream_unavailable', message: 'x' } };
      const done = await stream.append(queryId, error);
      expect(await stream.append(queryId, { type: 'token', text: 'late' })).toBeUndefined();
      await waitUntil(() => heard.length >= 2, { what: 'two notifications', timeoutMs: 2_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard.map(parseNotification)).toEqual([
        { id: first, previousId: '0', event: { type: 'token', text: 'one' } },
        { id: done, previousId: first, event: error },
      ]);
    } finally {
      subscriber.disconnect();
    }
  });

  it('notifies a takeover with the restart entry id alone (read again), and reads no entry from it', async () => {
    const queryId = newQueryId();
    const { heard, subscriber } = await listen(queryId);
    try {
      await stream.append(queryId, { type: 'started', attempt: 1 }, { token: 'run-1', claim: true, seq: 1 });
      await stream.append(queryId, { type: 'token', text: 'lost' }, { token: 'run-1', seq: 2 });
      await stream.append(queryId, { type: 'started', attempt: 2 }, { token: 'run-2', claim: true, seq: 1 });
      await waitUntil(() => heard.length >= 3, { what: 'three notifications', timeoutMs: 2_000 });
      const restart = (await stream.readAfter(queryId, '0')).at(-1);
      expect(restart?.event.type).toBe('restart');
      expect(heard[2]).toBe(restart?.id);
      expect(parseNotification(heard[2]!)).toBeUndefined();
    } finally {
      subscriber.disconnect();
    }
  });

  it('reads no entry from a message it cannot parse', () => {
    expect(parseNotification('1-1')).toBeUndefined();
    expect(parseNotification('1-1\n0\n{not json')).toBeUndefined();
    expect(parseNotification('1-1\n0\n{"type":"bogus"}')).toBeUndefined();
  });
});
