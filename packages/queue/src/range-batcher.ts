import type { RedisClient } from './redis.ts';
import { pipelineBatches, type SlotMap } from './slot-groups.ts';

/** One stream entry as XRANGE returns it: id and flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

type PendingRead = {
  key: string;
  start: string;
  count: number;
  resolve(entries: StreamEntry[]): void;
  reject(error: unknown): void;
};

/**
 * XRANGE reads issued in one event-loop turn leave as one explicit pipeline: one socket write and
 * one reply read for all of them instead of one each (an API process tails many streams, and a
 * worker's batch of appends notifies many of them at once). Unlike ioredis' auto-pipelining, an
 * explicit pipeline fails its own commands fast when the connection is down and never holds back
 * the commands issued after it.
 *
 * @example
 * const xrange = createRangeBatcher(redis);
 * const entries = await xrange(keys.events(queryId), '-', 1000); // to the end, at most 1000
 */
export function createRangeBatcher(redis: Pick<RedisClient, 'pipeline'> & SlotMap) {
  let pending: PendingRead[] = [];

  function flush(): void {
    const reads = pending;
    pending = [];
    // On a cluster, one pipeline per node (each stream lives on its query's slot).
    for (const batch of pipelineBatches(redis, reads, (read) => read.key)) send(batch);
  }

  function send(batch: PendingRead[]): void {
    const pipeline = redis.pipeline();
    for (const read of batch) pipeline.xrange(read.key, read.start, '+', 'COUNT', read.count);
    pipeline.exec().then(
      (results) => {
        batch.forEach((read, i) => {
          const [error, entries] = results?.[i] ?? [new Error('pipeline returned no result')];
          if (error) read.reject(error);
          else read.resolve(entries as StreamEntry[]);
        });
      },
      (error: unknown) => {
        for (const read of batch) read.reject(error);
      },
    );
  }

  /** The entries of stream `key` from `start` (an XRANGE start: `-`, an id, or `(id`) to its end, at most `count`. */
  return function xrange(key: string, start: string, count: number): Promise<StreamEntry[]> {
    return new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ key, start, count, resolve, reject });
    });
  };
}
