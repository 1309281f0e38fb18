export { createLogger } from './logger.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createMetrics } from './metrics.ts';
export type { Metrics } from './metrics.ts';
export { pickRequestId } from './request-id.ts';
export { createHealthRoutes, runChecks } from './health-routes.ts';
export type { HealthRoutesDeps, ReadinessCheck } from './health-routes.ts';
