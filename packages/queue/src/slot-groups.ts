import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import type { RedisClient } from './redis.ts';

/** What {@link pipelineBatches} needs of a connection: whether it is a cluster, and its slot map. */
export type SlotMap = Partial<Pick<Cluster, 'isCluster' | 'slots'>>;

function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

/**
 * Splits items into the batches one pipeline may carry. On a single Redis that is one batch, in
 * order. On a cluster, ioredis sends a pipeline to one node, so the items are grouped by the
 * node serving their key's slot (one batch per master); a slot whose node is not known yet
 * (slots still loading) is a batch of its own, which ioredis routes when it runs.
 *
 * @example
 * for (const batch of pipelineBatches(redis, reads, (r) => r.key)) {
 *   const pipeline = redis.pipeline();
 *   for (const r of batch) pipeline.xrange(r.key, r.start, '+');
 *   await pipeline.exec();
 * }
 */
export function pipelineBatches<T>(redis: SlotMap, items: readonly T[], keyOf: (item: T) => string): T[][] {
  if (redis.isCluster !== true) return items.length === 0 ? [] : [[...items]];
  const batches = new Map<string, T[]>();
  for (const item of items) {
    const slot = calculateSlot(keyOf(item));
    const node = redis.slots?.[slot]?.join(',') ?? `slot:${slot}`;
    const batch = batches.get(node);
    if (batch) batch.push(item);
    else batches.set(node, [item]);
  }
  return [...batches.values()];
}

/** Keys grouped by slot, each with its positions in the caller's list. */
function bySlot(keys: readonly string[]): { keys: string[]; at: number[] }[] {
  const groups = new Map<number, { keys: string[]; at: number[] }>();
  keys.forEach((key, i) => {
    const slot = calculateSlot(key);
    const group = groups.get(slot);
    if (group) {
      group.keys.push(key);
      group.at.push(i);
    } else groups.set(slot, { keys: [key], at: [i] });
  });
  return [...groups.values()];
}

/** How one slot's MGET is sent: alone, or added to a pipeline. */
type SlotRead<V> = {
  alone(keys: string[]): Promise<(V | null)[]>;
  into(pipeline: ReturnType<Cluster['pipeline']>, keys: string[]): void;
};

async function mgetBySlot<V>(
  redis: Cluster,
  keys: readonly string[],
  read: SlotRead<V>,
): Promise<(V | null)[]> {
  const out: (V | null)[] = new Array(keys.length).fill(null);
  const fill = (group: { at: number[] }, values: (V | null)[]) =>
    group.at.forEach((i, k) => {
      out[i] = values[k] ?? null;
    });
  // One MGET per slot (a cluster refuses one across slots with CROSSSLOT).
  const groups = bySlot(keys);
  if (redis.options.enableAutoPipelining) {
    // Sent alone, auto-pipelining joins them per node with the other requests' commands of this
    // turn: one write per node for all concurrent submits (about twice as fast as a pipeline each).
    await Promise.all(groups.map(async (group) => fill(group, await read.alone(group.keys))));
    return out;
  }
  // Otherwise one pipeline per node, the nodes read in parallel.
  await Promise.all(
    pipelineBatches(redis, groups, (g) => g.keys[0]!).map(async function readNode(batch) {
      const pipeline = redis.pipeline();
      for (const group of batch) read.into(pipeline, group.keys);
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((group, g) => {
        const [error, values] = replies[g] ?? [new Error('pipeline returned no result')];
        if (error) throw error;
        fill(group, values as (V | null)[]);
      });
    }),
  );
  return out;
}

/**
 * MGET of keys in any slots: one MGET on a single Redis (as before clusters were supported); on a
 * cluster one MGET per slot, auto-pipelined when the connection is (the submit path), else one
 * pipeline per node, the nodes read in parallel. Values come back in the order of `keys`.
 */
export function mgetAnySlots(redis: RedisClient, keys: readonly string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return Promise.resolve([]);
  if (!isCluster(redis)) return redis.mget(...keys);
  return mgetBySlot<string>(redis, keys, {
    alone: (group) => redis.mget(...group),
    into: (pipeline, group) => pipeline.mget(...group),
  });
}

/** {@link mgetAnySlots} returning Buffers. */
export function mgetBufferAnySlots(redis: RedisClient, keys: readonly string[]): Promise<(Buffer | null)[]> {
  if (keys.length === 0) return Promise.resolve([]);
  if (!isCluster(redis)) return redis.mgetBuffer(...keys);
  return mgetBySlot<Buffer>(redis, keys, {
    alone: (group) => redis.mgetBuffer(...group),
    into: (pipeline, group) => pipeline.mgetBuffer(...group),
  });
}
