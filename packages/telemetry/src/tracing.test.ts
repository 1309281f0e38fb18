import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import {
  extractContext,
  injectTraceparent,
  linkTo,
  startTracing,
  traceFields,
  withoutTracing,
  withSpan,
} from './tracing.ts';

type Export = { resourceSpans: { scopeSpans: { spans: { name: string; parentSpanId?: string }[] }[] }[] };

/** A bare OTLP/HTTP receiver: counts every request, keeps JSON bodies. */
async function receiver(
  port: number,
): Promise<{ server: Server; port: number; bodies: Export[]; hits: () => number }> {
  const bodies: Export[] = [];
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (/json/.test(req.headers['content-type'] ?? ''))
        bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, bodies, hits: () => hits };
}

const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
});

describe('tracing with nothing configured', () => {
  it('creates no exporter and connects nowhere, not even to the SDK default localhost:4318', async () => {
    // Listen where the SDK's default OTLP exporter would send (skipped if the port is taken).
    const defaultPort = await receiver(4318).catch(() => undefined);
    if (defaultPort) servers.push(defaultPort.server);
    const tracing = await startTracing({ enabled: false, serviceName: 'test' });
    expect(tracing.enabled).toBe(false);
    await withSpan('assistant.query', (span) => {
      expect(span.isRecording()).toBe(false);
    });
    await tracing.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(defaultPort?.hits() ?? 0).toBe(0);
    // No SDK registered: the global provider still hands out no-op tracers.
    expect(trace.getTracer('x').startSpan('y').isRecording()).toBe(false);
  });

  it('still carries a caller traceparent through unchanged', async () => {
    const parent = extractContext({ traceparent: CALLER });
    expect(injectTraceparent(parent)).toEqual({ traceparent: CALLER });
    expect(linkTo({ traceparent: CALLER })[0]?.context.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(linkTo({ traceparent: 'garbage' })).toEqual([]);
    expect(injectTraceparent(extractContext(undefined))).toEqual({});
  });
});

describe('tracing with an OTLP endpoint (http/json)', () => {
  it('exports child spans under the caller, suppresses them when asked, and flushes on shutdown', async () => {
    const otlp = await receiver(0);
    servers.push(otlp.server);
    // The SDK reads OTEL_* itself (as it does in the apps, from the process environment).
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${otlp.port}`;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
    const tracing = await startTracing({ enabled: true, serviceName: 'test' });
    let logged: ReturnType<typeof traceFields> = {};
    let carried: Record<string, string> = {};
    await withSpan('assistant.query', { parent: extractContext({ traceparent: CALLER }) }, async (span) => {
      expect(span.isRecording()).toBe(true);
      expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      carried = injectTraceparent();
      await withSpan('assistant.embed', () => {
        logged = traceFields();
      });
      await withoutTracing(() =>
        withSpan('assistant.hidden', (hidden) => {
          expect(hidden.isRecording()).toBe(false);
        }),
      );
      // Also with an explicit parent (a job's context), as the worker starts its attempt span.
      await withoutTracing(() =>
        withSpan('assistant.hidden', { parent: extractContext({ traceparent: CALLER }) }, (hidden) => {
          expect(hidden.isRecording()).toBe(false);
        }),
      );
    });
    expect(carried.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(logged.trace_id).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(logged.span_id).toMatch(/^[0-9a-f]{16}$/);
    await expect(withSpan('assistant.fails', () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    // Batched: nothing need have left yet; shutdown flushes.
    await tracing.shutdown();
    const names = otlp.bodies.flatMap((b) =>
      b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))),
    );
    expect(names.sort()).toEqual(['assistant.embed', 'assistant.fails', 'assistant.query']);
  });
});
