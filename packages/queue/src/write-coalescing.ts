import type { Writable } from 'node:stream';
import { Cluster, type Redis } from 'ioredis';

const COALESCED = Symbol('writes coalesced');

/**
 * Makes every write to a socket in one turn of the event loop leave in one system call: the first
 * write of a turn corks the socket and the end of the turn (`process.nextTick`, which runs once
 * the current callbacks and their promise continuations have drained) uncorks it, so Node hands
 * the kernel one `writev` of everything written meanwhile. Bytes and their order are unchanged and
 * nothing waits for a reply first (unlike ioredis' auto-pipelining, which sends one pipeline at a
 * time per connection): a write waits at most until the end of its turn.
 *
 * Why: a non-pipelined ioredis connection writes each command as it is issued (a system call
 * each), and a worker's concurrent jobs issue several commands per turn when a socket read
 * resolves several replies at once. Idempotent per socket.
 */
export function coalesceWrites(socket: Writable & { [COALESCED]?: true }): void {
  if (socket[COALESCED]) return;
  socket[COALESCED] = true;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function coalescedWrite(this: Writable, ...args: Parameters<Writable['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Writable['write'];
}

/** Coalesces the writes of a connection's socket, and of each socket it reconnects with. */
function coalesceConnection(redis: Redis): void {
  const apply = () => {
    if (redis.stream) coalesceWrites(redis.stream);
  };
  apply();
  redis.on('connect', apply);
}

/**
 * {@link coalesceWrites} for an ioredis client: a single connection's socket (again after each
 * reconnect), or every node connection of a cluster client.
 */
export function coalesceRedisWrites(redis: Redis | Cluster): void {
  if (redis instanceof Cluster) {
    for (const node of redis.nodes()) coalesceConnection(node);
    redis.on('+node', (node: Redis) => coalesceConnection(node));
    return;
  }
  coalesceConnection(redis);
}
