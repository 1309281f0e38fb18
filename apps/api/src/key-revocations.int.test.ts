import { connectRedis, createKeys } from '@assistant/queue';
import { createTestRedis, type TestRedis } from '@assistant/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKeyRevocations, type KeyRevocations, type RevocableKeyCache } from './key-revocations.ts';

// Two "API processes", each with its own command and subscriber connections, over real Redis.
let testRedis: TestRedis;
type Redis = Awaited<ReturnType<typeof connectRedis>>;
const opened: { connections: Redis[]; revocations: KeyRevocations[] } = { connections: [], revocations: [] };
const silent = { warn() {} };

function recordingCache() {
  const seen: string[] = [];
  const cache: RevocableKeyCache = {
    evict: (keyHash) => seen.push(`evict:${keyHash}`),
    clear: () => seen.push('clear'),
  };
  return { cache, seen };
}

async function startProcess() {
  const keys = createKeys(testRedis.prefix);
  const publisher = await connectRedis(testRedis.url, 'command', 'test-publisher', silent);
  const subscriber = await connectRedis(testRedis.url, 'subscriber', 'test-subscriber', silent);
  opened.connections.push(publisher, subscriber);
  const revocations = await createKeyRevocations(publisher, subscriber, keys, silent);
  opened.revocations.push(revocations);
  const { cache, seen } = recordingCache();
  revocations.onRevoked(cache);
  return { revocations, subscriber, seen };
}

beforeAll(async () => {
  testRedis = await createTestRedis('key-revocations');
});
afterEach(() => {
  for (const revocations of opened.revocations.splice(0)) revocations.close();
  for (const connection of opened.connections.splice(0)) connection.disconnect();
});
afterAll(async () => {
  await testRedis?.cleanup();
});

describe('key revocations', () => {
  it('evicts a published key hash in the publishing process at once and in another on receipt', async () => {
    const a = await startProcess();
    const b = await startProcess();
    await a.revocations.publish('hash-1');
    // Local eviction is synchronous with the publish: no round trip through Redis needed.
    expect(a.seen).toContain('evict:hash-1');
    await expect.poll(() => b.seen).toContain('evict:hash-1');
    expect(b.seen).not.toContain('clear');
  });

  it('ignores revocations of another prefix', async () => {
    const a = await startProcess();
    const other = await connectRedis(testRedis.url, 'command', 'test-other', silent);
    opened.connections.push(other);
    await other.publish(createKeys(`${testRedis.prefix}-other`).keyRevocations(), 'foreign');
    await a.revocations.publish('own');
    await expect.poll(() => a.seen.filter((entry) => entry === 'evict:own').length).toBe(2);
    expect(a.seen).not.toContain('evict:foreign');
  });

  it('is not live while its subscriber is disconnected, and clears the cache once resubscribed', async () => {
    const a = await startProcess();
    const b = await startProcess();
    expect(b.revocations.isLive()).toBe(true);
    const closed = new Promise<void>((resolve) => b.subscriber.once('close', () => resolve()));
    b.subscriber.disconnect(true); // drop the connection; ioredis reconnects by itself
    await closed;
    expect(b.revocations.isLive()).toBe(false);
    await expect.poll(() => b.revocations.isLive()).toBe(true);
    expect(b.seen).toContain('clear');
    // And the subscription works again after the reconnect.
    await a.revocations.publish('after-reconnect');
    await expect.poll(() => b.seen).toContain('evict:after-reconnect');
  });

  it('stops receiving once closed', async () => {
    const a = await startProcess();
    const b = await startProcess();
    b.revocations.close();
    expect(b.revocations.isLive()).toBe(false);
    await a.revocations.publish('late');
    // Twice: evicted locally, then received back through Redis, as b would have received it.
    await expect.poll(() => a.seen.filter((entry) => entry === 'evict:late').length).toBe(2);
    expect(b.seen).toEqual([]);
  });
});
