import { Redis } from 'ioredis';

/** Samples `INFO clients` every `intervalMs` and keeps the peak of `connected_clients`. */
export function sampleRedisClients(url: string, intervalMs = 250) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let before = Number.NaN;
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
  async function connectedClients(): Promise<number> {
    const info = await redis.info('clients');
    return Number(info.match(/connected_clients:(\d+)/)?.[1]);
  }
  return {
    /** Connects and records the count before the load (other users of a shared Redis). */
    async start(): Promise<void> {
      await redis.connect();
      before = await connectedClients();
      peak = before;
      timer = setInterval(() => {
        connectedClients().then(
          (n) => {
            peak = Math.max(peak, n);
          },
          () => {},
        );
      }, intervalMs);
    },
    async stop(): Promise<{ before: number; peak: number }> {
      clearInterval(timer);
      peak = Math.max(peak, await connectedClients().catch(() => 0));
      redis.disconnect();
      return { before, peak };
    },
  };
}
