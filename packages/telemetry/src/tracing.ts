import {
  type Attributes,
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { isTracingSuppressed, suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core';

/** What {@link startTracing} needs: whether anything is configured, and the service's name. */
export type TracingOptions = {
  /**
   * An exporter is configured (`OTEL_TRACES_EXPORTER`, or an OTLP endpoint) and the SDK is not
   * disabled; decided by `loadConfig`. Off: no SDK, no exporter, no connection, every span a no-op.
   */
  enabled: boolean;
  /** `service.name` of this process's spans (`OTEL_SERVICE_NAME` or the app's default). */
  serviceName: string;
};

/** The running tracing of a process. */
export type Tracing = {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /** Flushes the spans not yet exported and stops the exporter; resolves even if the export fails. */
  shutdown(): Promise<void>;
};

/** W3C trace context as carried in a job's `trace` field or an HTTP request's headers. */
export type TraceCarrier = Record<string, string>;

/** A span, and a link from one span to another trace's, as the OpenTelemetry API defines them. */
export type { Link, Span };

const TRACER_NAME = 'assistant-service';
// Our own propagator, not the global one: a job carries the trace context even when this
// process records nothing (the next hop may), and OTEL_PROPAGATORS does not change the job format.
const w3c = new W3CTraceContextPropagator();
const carrierGetter = {
  keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | undefined>, key: string) => carrier[key],
};
const carrierSetter = {
  set: (carrier: TraceCarrier, key: string, value: string) => {
    carrier[key] = value;
  },
};

/**
 * Starts the OpenTelemetry Node SDK for traces when something is configured, else nothing (no
 * SDK, no exporter, no connection attempt). The SDK reads every other `OTEL_*` variable itself
 * (protocol, endpoint, headers, sampler, batch sizes). Metrics stay with Prometheus and logs with
 * pino: the SDK's default OTLP metric and log exporters are switched off. Call it first in `main`.
 *
 * @example
 * const tracing = await startTracing({ enabled: config.tracing.enabled, serviceName: 'assistant-api' });
 * // … on shutdown:
 * await tracing.shutdown();
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.enabled) return { enabled: false, shutdown: async () => {} };
  // Loaded only when tracing is on: the SDK and its exporters are a large import.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return {
    enabled: true,
    async shutdown() {
      await sdk.shutdown().catch(() => {});
    },
  };
}

/** The tracer every span of the service is made by (a no-op until the SDK is started). */
function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** Options of {@link withSpan}. */
export type SpanOptions = {
  attributes?: Attributes;
  /** The parent context (a job's extracted context); the active one when absent. */
  parent?: Context;
  links?: Link[];
  kind?: 'internal' | 'server' | 'consumer' | 'producer' | 'client';
  /**
   * Whether a thrown error marks the span failed; `false` for errors that steer control flow (a
   * job put back to wait). @defaultValue every error fails the span
   */
  isFailure?: (error: unknown) => boolean;
};

const KINDS = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  consumer: SpanKind.CONSUMER,
  producer: SpanKind.PRODUCER,
  client: SpanKind.CLIENT,
} as const;

/** The `error.code` of an error that has one (our `AppError`, `TerminalError`, `LlmError.kind`). */
function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code ?? (error as { kind?: unknown }).kind;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Runs `run` inside a new active span named `name` and ends the span when it settles. A throw
 * marks the span as an error with `error.code` and the error's type, never its message (which may
 * quote the question), then propagates.
 *
 * @example
 * const vector = await withSpan('assistant.embed', () => embedder.embed([query]));
 */
export function withSpan<T>(name: string, run: (span: Span) => T | Promise<T>): Promise<T>;
export function withSpan<T>(
  name: string,
  options: SpanOptions,
  run: (span: Span) => T | Promise<T>,
): Promise<T>;
export function withSpan<T>(
  name: string,
  optionsOrRun: SpanOptions | ((span: Span) => T | Promise<T>),
  maybeRun?: (span: Span) => T | Promise<T>,
): Promise<T> {
  const options = typeof optionsOrRun === 'function' ? {} : optionsOrRun;
  const run = typeof optionsOrRun === 'function' ? optionsOrRun : maybeRun!;
  // An explicit parent (extracted from a job or headers) keeps the suppression of `withoutTracing`.
  const active = context.active();
  const parent = options.parent
    ? isTracingSuppressed(active)
      ? suppressTracing(options.parent)
      : options.parent
    : active;
  return tracer().startActiveSpan(
    name,
    {
      kind: KINDS[options.kind ?? 'internal'],
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links ? { links: options.links } : {}),
    },
    parent,
    async function inSpan(span) {
      try {
        return await run(span);
      } catch (error) {
        if (options.isFailure?.(error) !== false) recordFailure(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** Marks `span` failed by `error` (its code and type; the message may quote user text). */
export function recordFailure(span: Span, error: unknown): void {
  const code = codeOf(error);
  span.setAttributes({
    'error.type': error instanceof Error ? error.name : typeof error,
    ...(code ? { 'error.code': code } : {}),
  });
  span.setStatus({ code: SpanStatusCode.ERROR, ...(code ? { message: code } : {}) });
}

/**
 * Runs `run` with tracing suppressed: no span below it is recorded (a user whose `tracing` flag is
 * off). Trace context still travels as given.
 */
export function withoutTracing<T>(run: () => T): T {
  return context.with(suppressTracing(context.active()), run);
}

/** The W3C headers (`traceparent`, `tracestate`) of `ctx`'s span; empty when it has none. */
export function injectTraceparent(ctx: Context = context.active()): TraceCarrier {
  const carrier: TraceCarrier = {};
  w3c.inject(ctx, carrier, carrierSetter);
  return carrier;
}

/** The context of W3C headers (`traceparent`, `tracestate`), from nothing else; root when absent or invalid. */
export function extractContext(carrier: Record<string, string | undefined> | undefined): Context {
  if (!carrier?.traceparent) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, carrier, carrierGetter);
}

/** A span link to the trace W3C headers name (a poll linking to its query's trace); none if invalid. */
export function linkTo(carrier: Record<string, string | undefined> | undefined): Link[] {
  const spanContext: SpanContext | undefined = trace.getSpanContext(extractContext(carrier));
  return spanContext && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
}

/** The active span's ids for a log line (`trace_id`, `span_id`); empty outside a span. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId } : {};
}
