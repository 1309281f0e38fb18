export type { HealthRoutesDeps, ReadinessCheck } from './health-routes.ts';
export { createHealthRoutes, runChecks } from './health-routes.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createLogger } from './logger.ts';
export type { Metrics } from './metrics.ts';
export { createMetrics } from './metrics.ts';
export { pickRequestId } from './request-id.ts';
