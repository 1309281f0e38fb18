export type { DeadlineOptions } from './deadline.ts';
export { DeadlineError, runWithDeadline, withDeadline } from './deadline.ts';
export type { DependencyFailure } from './dependency-failure.ts';
export { dependencyFailureOf, isDatabaseUnavailable } from './dependency-failure.ts';
export type { HealthRoutesDeps, ReadinessCheck } from './health-routes.ts';
export { createHealthRoutes, runChecks } from './health-routes.ts';
export type { Logger, LoggerOptions } from './logger.ts';
export { createLogger } from './logger.ts';
export type { CacheTierLabel, Metrics, QueryStatus, RolloutMetrics } from './metrics.ts';
export { createLabelFolder, createMetrics, createRolloutMetrics, registerLedgerGauges } from './metrics.ts';
export type { ProcessPoolOptions } from './process-pool.ts';
export { runProcessPool } from './process-pool.ts';
export type { ListenAt } from './process-start.ts';
export { listenOrExit, onStopSignals } from './process-start.ts';
export { pickRequestId } from './request-id.ts';
export type { Link, Span, SpanOptions, TraceCarrier, Tracing, TracingOptions } from './tracing.ts';
export {
  extractContext,
  injectTraceparent,
  linkTo,
  recordFailure,
  startTracing,
  traceFields,
  withoutTracing,
  withSpan,
} from './tracing.ts';
