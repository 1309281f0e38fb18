export { createTestDatabase } from './database.ts';
export type { TestDatabase } from './database.ts';
export { testServers, uniqueName } from './env.ts';
export { startService } from './processes.ts';
export type { ServiceProcess } from './processes.ts';
export { createTestRedis, deleteKeys } from './redis.ts';
export type { TestRedis } from './redis.ts';
export { startTcpProxy } from './tcp-proxy.ts';
export type { ProxyMode, TcpProxy } from './tcp-proxy.ts';
