import { pino } from 'pino';
import { traceFields } from './tracing.ts';

/** The structured logger every app and package writes to. */
export type Logger = pino.Logger;

/** Options of {@link createLogger}. */
export type LoggerOptions = {
  /** Name of the process (`api`, `worker`, …), logged on every line. */
  service: string;
  /** @defaultValue 'info' */
  level?: string;
};

/**
 * Creates a JSON logger on stdout that never logs secrets in common header fields. A line logged
 * inside a span carries its `trace_id` and `span_id`.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    name: options.service,
    level: options.level ?? 'info',
    redact: ['req.headers.authorization', 'authorization', 'apiKey', 'api_key'],
    mixin: traceFields,
  });
}
