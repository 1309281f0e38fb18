import net from 'node:net';

/** Statements a Postgres client sent through the proxy, counted by normalised SQL text. */
export type PgStatementProxy = {
  port: number;
  /** Statements executed since the last `take()`, by SQL (first 90 characters, whitespace folded). */
  take(): Map<string, number>;
  close(): Promise<void>;
};

const SSL_REQUEST = 80_877_103;

/**
 * A TCP proxy in front of Postgres that reads the frontend side of the wire protocol and counts
 * every statement executed: each extended-protocol Execute (`E`, attributed to the statement its
 * Bind named, whose text came from its Parse) and each simple Query (`Q`). The postgres client
 * prepares a statement once per connection and executes it by name, so Parse alone would
 * undercount. Only for benchmarks on 127.0.0.1 (no TLS).
 */
export async function startPgStatementProxy(target: {
  host: string;
  port: number;
}): Promise<PgStatementProxy> {
  let counts = new Map<string, number>();
  const count = (sql: string) => {
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const statements = new Map<string, string>(); // prepared name → SQL
    let bound = '';
    let startup = true;
    let buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (startup) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          startup = buffer.readInt32BE(4) === SSL_REQUEST;
          buffer = buffer.subarray(length);
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]!);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        if (type === 'P') {
          const nameEnd = body.indexOf(0);
          const sqlEnd = body.indexOf(0, nameEnd + 1);
          statements.set(body.toString('utf8', 0, nameEnd), body.toString('utf8', nameEnd + 1, sqlEnd));
        } else if (type === 'B') {
          const portalEnd = body.indexOf(0);
          bound = body.toString('utf8', portalEnd + 1, body.indexOf(0, portalEnd + 1));
        } else if (type === 'E') {
          count(statements.get(bound) ?? '(unknown prepared statement)');
        } else if (type === 'Q') {
          count(body.toString('utf8', 0, body.length - 1));
        }
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    take() {
      const taken = counts;
      counts = new Map();
      return taken;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
