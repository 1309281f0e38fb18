export type { TestDatabase } from './database.ts';
export { createTestDatabase } from './database.ts';
export { testServers, uniqueName } from './env.ts';
export { freePort } from './free-port.ts';
export { mapConcurrent } from './map-concurrent.ts';
export type { ServiceProcess } from './processes.ts';
export { startService } from './processes.ts';
export { sampleValue, scrapeMetric } from './prometheus.ts';
export type {
  AttemptSummary,
  QueryClient,
  QueryEventRecord,
  QueryView,
  SubmitResponse,
} from './query-client.ts';
export { createQueryClient, readStoredEvents, summarizeAttempts } from './query-client.ts';
export type { RateLimitItem } from './rate-limit-fields.ts';
export { parseRateLimitField } from './rate-limit-fields.ts';
export type { TestRedis } from './redis.ts';
export { createTestRedis, deleteKeys } from './redis.ts';
export type { TestRedisCluster } from './redis-cluster.ts';
export { startRedisCluster } from './redis-cluster.ts';
export type { SseEvent } from './sse-client.ts';
export { readSse } from './sse-client.ts';
export type { Stack } from './stack.ts';
export { STACK_ADMIN_TOKEN, startStack } from './stack.ts';
export type { ProxyMode, TcpProxy } from './tcp-proxy.ts';
export { startTcpProxy } from './tcp-proxy.ts';
export type { WaitUntilOptions } from './wait-until.ts';
export { waitUntil } from './wait-until.ts';
