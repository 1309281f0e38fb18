import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { coalesceRedisWrites } from './write-coalescing.ts';

/** A connection to one Redis or to a Redis Cluster: every module that talks to Redis takes either. */
export type RedisClient = Redis | Cluster;

/**
 * What a connection is for:
 * - `command`: request paths (API). Fails fast when Redis is down (no offline queue), so a
 *   request gets a 503 instead of hanging. Not auto-pipelined: ioredis runs one auto-pipeline
 *   at a time per connection, so commands would queue behind one caught in a dropped connection
 *   instead of failing fast (the Redis-outage test saw /readyz wait out the outage). Its writes
 *   are coalesced (`coalesceWrites`), which sends each command at once, as `worker` below.
 * - `submit`: the submit path's lookups and scripts in an API process (cache state, answer
 *   cache, single-flight marker, admission): as `command`, but auto-pipelined. Under load many
 *   submits reach the same step in one event-loop turn, and one socket write for all of them
 *   replaces one each (a write is a system call, about a quarter of an API process's CPU in a
 *   spike before this). The one-pipeline-at-a-time cost above is bounded here: every submit step
 *   has its own deadline (503 when it passes), and readiness and the rest stay on `command`.
 * - `worker`: BullMQ workers; BullMQ requires `maxRetriesPerRequest: null`. Not auto-pipelined:
 *   BullMQ duplicates it for blocking commands, which must not queue behind a pipeline. Its
 *   writes are coalesced instead (`coalesceWrites`): the commands a worker's jobs issue in one
 *   event-loop turn leave in one system call, each sent at once as before.
 * - `events`: a worker's appends to event streams (see below).
 * - `subscriber`: a pub/sub connection (an API process's stream reader, its key revocations).
 *   Once subscribed it runs no other command; ioredis re-subscribes after a reconnect. No command
 *   timeout, and a (re)subscribe fails after one failed reconnect instead of waiting forever.
 *   Its writes are coalesced too: the SUBSCRIBEs of a burst of new streams leave in one write.
 */
export type RedisRole = 'command' | 'submit' | 'worker' | 'subscriber' | 'events';

const roleOptions: Record<RedisRole, RedisOptions> = {
  command: {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
  },
  submit: {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    enableAutoPipelining: true,
  },
  worker: { maxRetriesPerRequest: null, enableReadyCheck: true },
  subscriber: { enableOfflineQueue: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 },
  // A worker's event appends: wait out an outage; commands in flight when the connection
  // dropped are re-sent (ioredis would otherwise leave their promises pending forever), and the
  // append script drops a re-sent duplicate by its sequence number.
  // Auto-pipelined: the appends all running jobs issue in one event-loop turn leave in one socket
  // write (a write is a system call, which costs more than the append itself on a busy small host).
  events: { maxRetriesPerRequest: null, enableAutoPipelining: true },
};

/** Roles whose sockets coalesce the writes of one event-loop turn (see `coalesceWrites`). */
const COALESCED_ROLES: ReadonlySet<RedisRole> = new Set(['command', 'worker', 'subscriber']);

const CLUSTER_PROTOCOLS: Record<string, boolean> = { 'redis+cluster:': false, 'rediss+cluster:': true };

/** Whether a `REDIS_URL` names a Redis Cluster (`redis+cluster://` or `rediss+cluster://`). */
export function isClusterUrl(url: string): boolean {
  return new URL(url).protocol in CLUSTER_PROTOCOLS;
}

/**
 * A cluster URL's seed node and the options every node connection shares: its credentials, and
 * TLS for `rediss+cluster://`. The client discovers the other nodes from the seed (CLUSTER SLOTS).
 */
function clusterTarget(url: string): { seed: { host: string; port: number }; node: RedisOptions } {
  const parsed = new URL(url);
  const tls = CLUSTER_PROTOCOLS[parsed.protocol];
  if (tls === undefined) throw new Error(`not a Redis Cluster URL: ${parsed.protocol}`);
  return {
    seed: { host: parsed.hostname, port: Number(parsed.port || 6379) },
    node: {
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(tls ? { tls: { servername: parsed.hostname } } : {}),
    },
  };
}

const reconnectDelay = (times: number) => Math.min(times * 200, 2_000);

/**
 * A role's options split for a cluster client: queueing, ready check and auto-pipelining belong to
 * the cluster object (which routes every command to its slot's node); timeouts, retries and the
 * connection name to each node connection.
 */
function clusterOptions(role: RedisRole, name: string | undefined, node: RedisOptions): ClusterOptions {
  const { enableOfflineQueue, enableReadyCheck, enableAutoPipelining, ...perNode } = roleOptions[role];
  return {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    clusterRetryStrategy: reconnectDelay,
    // Discovery (CLUSTER SLOTS on a fresh connection) may take this long per node: ioredis's 1 s
    // failed every node of a loaded host at once ("None of startup nodes is available").
    slotsRefreshTimeout: 5_000,
    redisOptions: { ...perNode, ...node, connectionName: name },
  };
}

function createCluster(url: string, role: RedisRole, name: string | undefined): Cluster {
  const { seed, node } = clusterTarget(url);
  return new Cluster([seed], clusterOptions(role, name, node));
}

function createSingle(url: string, role: RedisRole, name: string | undefined): Redis {
  return new Redis(url, { ...roleOptions[role], connectionName: name, retryStrategy: reconnectDelay });
}

/**
 * Opens a Redis connection for a role. The URL's database index (`redis://host:6379/3`) is
 * honoured by ioredis. A `redis+cluster://host:port` URL (`rediss+cluster://` for TLS) opens a
 * Redis Cluster client seeded from that node instead, with the same role options. Reconnects
 * forever with a capped backoff.
 */
export function createRedis(url: string, role: RedisRole, name?: string): RedisClient {
  const redis = isClusterUrl(url) ? createCluster(url, role, name) : createSingle(url, role, name);
  if (COALESCED_ROLES.has(role)) coalesceRedisWrites(redis);
  return redis;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * Opens a connection for a role, logs its connection errors (ioredis reconnects by itself), and
 * resolves once it is ready: what each app's composition root does for every connection it owns.
 */
export async function connectRedis(
  url: string,
  role: RedisRole,
  name: string,
  logger: { warn(fields: Record<string, unknown>, message: string): void },
): Promise<RedisClient> {
  const redis = createRedis(url, role, name);
  redis.on('error', (err: Error) =>
    logger.warn({ err: err.message, connection: name }, 'redis connection error'),
  );
  await waitForRedis(redis);
  return redis;
}
