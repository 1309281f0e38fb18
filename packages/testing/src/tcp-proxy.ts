import net from 'node:net';

/**
 * How the proxy treats traffic:
 * - `pass`: forwards both ways;
 * - `blackhole`: accepts and holds connections but forwards nothing (a hung dependency);
 * - `reset`: destroys every connection at once and refuses new ones (a dependency that died);
 * - `stall`: holds every byte, in order, and delivers them on the switch back to `pass` (a
 *   dependency that hangs, then resumes: requests sent meanwhile complete late).
 */
export type ProxyMode = 'pass' | 'blackhole' | 'reset' | 'stall';

/** A fault-injecting TCP proxy in front of a real server. */
export type TcpProxy = {
  port: number;
  url(scheme: string, path?: string): string;
  setMode(mode: ProxyMode): void;
  /** Extra delay added to every chunk forwarded, in ms. */
  setLatency(ms: number): void;
  close(): Promise<void>;
};

/**
 * Starts a proxy on 127.0.0.1 (free port) to `target`. No such tool is installable here, so this
 * small one stands between services and Redis, Postgres or the fake LLM in fault tests.
 */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let latencyMs = 0;
  const sockets = new Set<net.Socket>();
  // Per direction, the bytes held while stalled, flushed (in order) on the way back to `pass`.
  const held = new Map<net.Socket, Buffer[]>();

  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  function forward(from: net.Socket, to: net.Socket) {
    from.on('data', (chunk) => {
      if (mode === 'blackhole') return;
      const stalled = held.get(to);
      if (mode === 'stall' || stalled) {
        if (stalled) stalled.push(chunk);
        else held.set(to, [chunk]);
        return;
      }
      if (latencyMs > 0) setTimeout(() => to.write(chunk), latencyMs);
      else to.write(chunk);
    });
    from.on('close', () => to.destroy());
  }

  const server = net.createServer((client) => {
    track(client);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host ?? '127.0.0.1');
    track(upstream);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: (scheme, path = '') => `${scheme}://127.0.0.1:${port}${path}`,
    setMode(next) {
      mode = next;
      if (next === 'reset') for (const socket of sockets) socket.resetAndDestroy();
      if (next !== 'stall') {
        for (const [to, chunks] of held) for (const chunk of chunks) if (!to.destroyed) to.write(chunk);
        held.clear();
      }
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
