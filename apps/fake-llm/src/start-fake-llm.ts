import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { createFakeLlm, type FakeLlm, type FakeLlmOptions } from './fake-llm.ts';

/** Where and how to listen. */
export type StartFakeLlmOptions = FakeLlmOptions & {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue `127.0.0.1` */
  hostname?: string;
};

/** A fake LLM listening over real HTTP. */
export type RunningFakeLlm = Omit<FakeLlm, 'app'> & {
  /** Origin, e.g. `http://127.0.0.1:41234`; the OpenAI base URL is `${url}/v1`. */
  url: string;
  port: number;
  /** Stops listening and drops open connections (hanging requests included). */
  close(): Promise<void>;
};

/**
 * Starts a fake LLM on a real socket, by default on a free port of 127.0.0.1.
 *
 * @example
 * const fake = await startFakeLlm({ settings: { answerTokens: 5 } });
 * const res = await fetch(`${fake.url}/v1/chat/completions`, { method: 'POST', body: '…' });
 * await fake.close();
 */
export async function startFakeLlm(options: StartFakeLlmOptions = {}): Promise<RunningFakeLlm> {
  const { port = 0, hostname = '127.0.0.1', ...fakeOptions } = options;
  const fake = createFakeLlm(fakeOptions);
  // The default adaptor server is node:http's, which is what `reset` and `close` rely on.
  const server = createAdaptorServer({ fetch: fake.app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    settings: fake.settings,
    update: fake.update,
    counters: fake.counters,
    reset: fake.reset,
    close: function closeFakeLlm() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
