import { createServer } from 'node:net';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { Redis, type RedisOptions } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadlineError, withDeadline } from './deadline.ts';
import { dependencyFailureOf, isDatabaseUnavailable } from './dependency-failure.ts';

/** A port nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const rejectionOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );

describe('dependencyFailureOf, with real clients', () => {
  let port: number;
  const clients: { close(): unknown }[] = [];
  beforeAll(async () => {
    port = await closedPort();
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
  });

  function redisClient(options: RedisOptions) {
    const client = new Redis({ host: '127.0.0.1', port, ...options });
    client.on('error', () => {});
    clients.push({ close: () => client.disconnect() });
    return client;
  }
  function postgresClient(url: string) {
    const client = postgres(url, { connect_timeout: 2, max: 1 });
    clients.push({ close: () => client.end({ timeout: 1 }) });
    return client;
  }

  const cases: [string, () => Promise<unknown>, ReturnType<typeof dependencyFailureOf>][] = [
    [
      'ioredis gave up retrying (MaxRetriesPerRequestError)',
      () => redisClient({ maxRetriesPerRequest: 1, retryStrategy: () => 10 }).ping(),
      'redis',
    ],
    [
      'ioredis without offline queue, connection closed',
      () => redisClient({ enableOfflineQueue: false, retryStrategy: () => null }).ping(),
      'redis',
    ],
    [
      'ioredis command timed out on a real Redis',
      () => redisClient({ port: 6379, commandTimeout: 1 }).call('DEBUG', 'SLEEP', '0.05'),
      'redis',
    ],
    [
      'ioredis in-flight command on a disconnected client',
      async () => {
        const client = redisClient({ port: 6379 });
        await client.ping();
        const pending = client.blpop(`dependency-failure-test-${process.pid}`, 5);
        await new Promise((resolve) => setTimeout(resolve, 20));
        client.disconnect();
        return pending;
      },
      'redis',
    ],
    [
      'a command Redis refused (WRONGTYPE) is not an outage',
      async () => {
        const client = redisClient({ port: 6379 });
        const key = `dependency-failure-test-${process.pid}-string`;
        await client.set(key, 'x', 'PX', 5_000);
        return client.lpush(key, 'y');
      },
      undefined,
    ],
    [
      'postgres.js against a closed port',
      () => postgresClient(`postgres://postgres@127.0.0.1:${port}/x`)`select 1`,
      'postgres',
    ],
    [
      'postgres.js through drizzle (the driver error is the cause)',
      () => drizzle(postgresClient(`postgres://postgres@127.0.0.1:${port}/x`)).execute(sql`select 1`),
      'postgres',
    ],
    [
      'a query Postgres refused is not an outage',
      () => postgresClient('postgres://postgres@127.0.0.1:5432/postgres')`select no_such_column`,
      undefined,
    ],
    [
      'a dependency too slow (withDeadline)',
      () => withDeadline(new Promise(() => {}), 5, 'probe'),
      'timeout',
    ],
    ['a plain bug', async () => Promise.reject(new TypeError('x is not a function')), undefined],
  ];

  it.each(cases)('%s', async (_name, fail, expected) => {
    const error = await rejectionOf(fail());
    expect(dependencyFailureOf(error)).toBe(expected);
    expect(isDatabaseUnavailable(error)).toBe(expected === 'postgres');
  });

  it('walks the cause chain and AggregateError members', async () => {
    const down = await rejectionOf(
      redisClient({ enableOfflineQueue: false, retryStrategy: () => null }).ping(),
    );
    expect(dependencyFailureOf(new Error('wrapped', { cause: down }))).toBe('redis');
    const deadline = new DeadlineError('lookup', 1);
    expect(dependencyFailureOf(new AggregateError([new Error('other'), deadline]))).toBe('timeout');
    expect(dependencyFailureOf('not an error')).toBeUndefined();
  });
});
