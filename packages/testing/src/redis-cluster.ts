import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitUntil } from './wait-until.ts';

const run = promisify(execFile);

/** A Redis Cluster of masters on loopback ports, started by a test. */
export type TestRedisCluster = {
  /** `redis+cluster://127.0.0.1:<first port>`: what `REDIS_URL` takes. */
  url: string;
  /** Each master's client port. */
  ports: number[];
  /** A cluster client of the test's own. */
  client: Cluster;
  /** Keys held by each master (DBSIZE), in `ports` order. */
  keysPerNode(): Promise<number[]>;
  /** Kills the servers and removes their directory. */
  stop(): Promise<void>;
};

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `masters` `redis-server --cluster-enabled yes` processes (no persistence, no replicas)
 * in a temporary directory, joins them with `redis-cli --cluster create`, and resolves once
 * every node reports `cluster_state:ok`. The cluster bus of each node gets its own free port.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const stack = await startStack('cluster', { REDIS_URL: cluster.url });
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const servers: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    for (const server of servers) server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      ports.push(port);
      servers.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--cluster-port',
            String(busPort),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${i}.conf`),
            '--cluster-node-timeout',
            '5000',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of ports) {
      await waitUntil(() => listening(port), {
        what: `redis-server on ${port}`,
        timeoutMs: 10_000,
        intervalMs: 50,
      });
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitUntil(
        async () => {
          const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
          return stdout.includes('cluster_state:ok');
        },
        { what: `cluster_state:ok on ${port}`, timeoutMs: 20_000, intervalMs: 100 },
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const client = new Cluster([{ host: '127.0.0.1', port: ports[0]! }]);
  return {
    url: `redis+cluster://127.0.0.1:${ports[0]}`,
    ports,
    client,
    async keysPerNode() {
      return Promise.all(
        ports.map(async (port) => {
          const { stdout } = await run('redis-cli', ['-p', String(port), 'dbsize']);
          return Number(stdout.trim());
        }),
      );
    },
    async stop() {
      client.disconnect();
      await stop();
    },
  };
}
