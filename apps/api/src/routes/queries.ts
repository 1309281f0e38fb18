import type { TierLimits } from '@assistant/config';
import { GetQueryParams, isTerminalEvent, type QueryView, SubmitQuery } from '@assistant/contracts';
import { type KeyOwner, type QueriesRepo, servedRowCodec, terminalEventOf } from '@assistant/db';
import type { Flags } from '@assistant/flags';
import type { EventStream, ServedHits } from '@assistant/queue';
import { isStreamId } from '@assistant/queue';
import {
  extractContext,
  injectTraceparent,
  type Logger,
  linkTo,
  type Metrics,
  type Span,
  type TraceCarrier,
  withoutTracing,
  withSpan,
} from '@assistant/telemetry';
import { type Context, Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { AppError, notFound } from '../app-error.ts';
import { readJson } from '../json-body.ts';
import { isFinished, queryLinks, toQueryView } from '../query-view.ts';
import { sseMessageOf, streamSse } from '../sse-response.ts';
import type { StreamReader } from '../stream-reader.ts';
import type { StreamTokens } from '../stream-token.ts';
import type { QuerySubmitter } from '../submission/submit-query.ts';

/** Deps of {@link createQueryRoutes}. */
export type QueryRoutesDeps = {
  queries: Pick<QueriesRepo, 'findOwned'>;
  /** Cache hits served ahead of Postgres (write-behind): read while a writer has not stored them. */
  served?: Pick<ServedHits, 'findRow'>;
  submit: QuerySubmitter;
  limitsOf: (owner: KeyOwner) => TierLimits;
  events: Pick<EventStream, 'readAfter'>;
  /** Every SSE stream and long-poll of this process follows its query's stream through it. */
  reader: Pick<StreamReader, 'follow' | 'closing'>;
  /** Signs the token of each `events` link (see stream-token.ts). */
  streamTokens: Pick<StreamTokens, 'sign'>;
  metrics: Metrics;
  logger: Logger;
  /** The `tracing` flag: a user with it off gets no spans. */
  flags: Pick<Flags, 'enabled'>;
  /** The trace context a query was submitted under (from its job), for polls to link to. */
  traceOf: (queryId: string) => Promise<TraceCarrier | undefined>;
  now: () => number;
  options: { maxWaitSeconds: number; heartbeatMs: number };
};

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const QUERY_ID = /^q_[0-9a-f]{32}$/;
// Sent as the SSE `retry:` field: how long a browser waits before reconnecting.
const SSE_RETRY_MS = 2_000;

/** `POST /v1/queries`, `GET /v1/queries/:id`, `GET /v1/queries/:id/events`. */
export function createQueryRoutes(deps: QueryRoutesDeps) {
  const app = new Hono<AppEnv>();

  function withStreamLink(view: QueryView, userId: string): QueryView {
    return { ...view, links: queryLinks(view.id, deps.streamTokens.sign(userId, view.id)) };
  }

  async function findOwnedOr404(id: string, userId: string) {
    if (!QUERY_ID.test(id)) throw notFound('query');
    const row = await deps.queries.findOwned(id, userId);
    if (row) return row;
    // A cache hit answered moments ago may not be in Postgres yet: its row copy is in Redis.
    const served = await deps.served?.findRow(id);
    const copy = served === undefined ? undefined : servedRowCodec.decode(served);
    if (copy?.userId !== userId) throw notFound('query');
    return copy;
  }

  /**
   * Runs a request's handler in its span, a child of the caller's `traceparent` if it sent one;
   * untraced for a user whose `tracing` flag is off.
   */
  function traced<T>(
    c: Context<AppEnv>,
    userId: string,
    name: string,
    run: (span: Span) => Promise<T>,
  ): Promise<T> {
    const parent = extractContext({
      traceparent: c.req.header('traceparent'),
      tracestate: c.req.header('tracestate'),
    });
    const inSpan = () => withSpan(name, { kind: 'server', parent, attributes: { user_id: userId } }, run);
    return deps.flags.enabled('tracing', userId) ? inSpan() : withoutTracing(inSpan);
  }

  app.post('/', async function submitQuery(c) {
    const owner = c.get('user');
    return traced(c, owner.userId, 'assistant.query', (span) => submitTraced(c, span));
  });

  async function submitTraced(c: Context<AppEnv>, span: Span) {
    const started = performance.now();
    const owner = c.get('user');
    span.setAttribute('tier', owner.tier);
    const body = await readJson(c, SubmitQuery);
    // The length only: the question's text is never put on a span.
    span.setAttribute('query_length', body.query.length);
    const idempotencyKey = c.req.header('idempotency-key');
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new AppError('invalid_request', 'Idempotency-Key must be 1-255 visible ASCII characters', {
        status: 400,
      });
    }
    // The submitter owns the deadline: a hung dependency is a prompt 503 that accepted nothing.
    const outcome = await deps
      .submit({
        owner,
        limits: deps.limitsOf(owner),
        query: body.query,
        requestId: c.get('requestId'),
        idempotencyKey,
        bypassCache: /\bno-(store|cache)\b/i.test(c.req.header('cache-control') ?? ''),
        // This span's context (the worker's spans are its children); the caller's when untraced.
        trace: traceCarrierOf(c),
      })
      .catch((error: unknown) => {
        // Counted for the rate-limit alerts and the plan's query counts; the error handler answers.
        if (error instanceof AppError && (error.status === 429 || error.status === 503)) {
          deps.metrics.queries.inc({ status: 'refused' });
          const limit = (error.details as { limit?: string } | undefined)?.limit;
          if (error.status === 429 && limit) deps.metrics.rateLimitHits.inc({ limit });
        }
        span.setAttribute('outcome', 'refused');
        throw error;
      });
    if (outcome.admission?.allowed) {
      for (const [name, value] of Object.entries(outcome.admission.headers)) c.header(name, value);
    }
    if (outcome.kind === 'cached') {
      deps.metrics.queriesSubmitted.inc({ outcome: 'cached' });
      // Answered here, with no job: the API records the plan's per-question figures.
      deps.metrics.queries.inc({ status: 'succeeded' });
      deps.metrics.queryDuration.observe(
        { outcome: 'succeeded', cache: 'exact' },
        (performance.now() - started) / 1000,
      );
      span.setAttributes({ query_id: outcome.row.id, outcome: 'cached' });
      return c.json(withStreamLink(toQueryView(outcome.row), owner.userId), 200);
    }
    deps.metrics.queriesSubmitted.inc({ outcome: outcome.how });
    span.setAttributes({ query_id: outcome.id, outcome: outcome.how });
    if (outcome.how === 'replayed') c.header('Idempotent-Replayed', 'true');
    if (outcome.how === 'joined') c.header('X-Joined-Query', 'true');
    const links = queryLinks(outcome.id, deps.streamTokens.sign(owner.userId, outcome.id));
    return c.json({ id: outcome.id, status: outcome.status, links }, 202);
  }

  /** The trace context the job carries: the active span's, else the caller's headers as sent. */
  function traceCarrierOf(c: Context<AppEnv>): TraceCarrier {
    const own = injectTraceparent();
    if (own.traceparent) return own;
    const traceparent = c.req.header('traceparent');
    return traceparent ? { traceparent } : {};
  }

  /** Links a poll's span to the trace its query was submitted under (looked up only when recorded). */
  async function linkToQuery(span: Span, queryId: string): Promise<void> {
    if (!span.isRecording()) return;
    const carrier = await deps.traceOf(queryId).catch(() => undefined);
    const [link] = linkTo(carrier);
    if (link) span.addLink(link);
  }

  app.get('/:id', async function getQuery(c) {
    const user = c.get('user');
    return traced(c, user.userId, 'assistant.poll', (span) => pollQuery(c, span, c.req.param('id')));
  });

  async function pollQuery(c: Context<AppEnv>, span: Span, id: string) {
    const user = c.get('user');
    const params = GetQueryParams.parse({ wait: c.req.query('wait') });
    let row = await findOwnedOr404(id, user.userId);
    span.setAttribute('query_id', row.id);
    await linkToQuery(span, row.id);
    const waitSeconds = Math.min(params.wait ?? 0, deps.options.maxWaitSeconds);
    if (waitSeconds > 0 && !isFinished(row)) {
      await waitForTerminal(row.id, waitSeconds * 1000, c.req.raw.signal);
      row = (await deps.queries.findOwned(row.id, user.userId)) ?? row;
    }
    span.setAttribute('status', row.status);
    // A fresh stream token each time: a client whose token expired gets a new link here.
    return c.json(withStreamLink(toQueryView(row), user.userId));
  }

  /**
   * Waits until the query's terminal event is on its stream, the time is up, the client left or
   * the process is shutting down (the reader then ends every follower).
   */
  async function waitForTerminal(queryId: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = deps.now() + timeoutMs;
    const follower = deps.reader.follow(queryId, '0');
    const leave = () => follower.close();
    signal.addEventListener('abort', leave, { once: true });
    try {
      for (;;) {
        const remaining = deadline - deps.now();
        if (remaining <= 0) return;
        const batch = await follower.next(remaining);
        if (batch === undefined || batch.some((stored) => isTerminalEvent(stored.event))) return;
      }
    } finally {
      signal.removeEventListener('abort', leave);
      follower.close();
    }
  }

  app.get('/:id/events', async function streamQueryEvents(c) {
    // A stream token (checked by the auth middleware) or an API key names the reader.
    const userId = c.get('streamUserId') ?? c.get('user').userId;
    // The span covers the opening of the stream (lookups, replay decision), not its whole life:
    // a stream may stay open for minutes and its span would hold the batch until then.
    return traced(c, userId, 'assistant.events', (span) =>
      openEventStream(c, span, userId, c.req.param('id')),
    );
  });

  async function openEventStream(c: Context<AppEnv>, span: Span, userId: string, id: string) {
    const row = await findOwnedOr404(id, userId);
    span.setAttribute('query_id', row.id);
    await linkToQuery(span, row.id);
    const resumeFrom = c.req.header('last-event-id') ?? c.req.query('last_event_id') ?? '0';
    if (resumeFrom !== '0' && !isStreamId(resumeFrom)) {
      throw new AppError('invalid_request', 'Last-Event-ID must be an event id from this stream', {
        status: 400,
      });
    }
    // An expired stream of a finished query: replay its ending from the row.
    const expired = isFinished(row) && (await deps.events.readAfter(row.id, '0', 1)).length === 0;
    // Only what the stream needs outlives this function: not the row, not the request's context.
    const queryId = row.id;
    const ending = expired ? terminalEventOf(row) : undefined;
    // Everything is caught inside: a stream ends once, with `done` or `error` as stored, or with a
    // reconnect hint (a comment) when this process cannot go on.
    return streamSse(c, async function relayEvents(stream) {
      if (ending) {
        await stream.write(`retry: ${SSE_RETRY_MS}\n\n${sseMessageOf({ id: '0-1', event: ending })}`);
        return;
      }
      deps.metrics.sseConnections.inc();
      const follower = deps.reader.follow(queryId, resumeFrom);
      stream.onAbort(() => follower.close());
      try {
        await stream.write(`retry: ${SSE_RETRY_MS}\n\n`);
        for (;;) {
          const batch = await follower.next(deps.options.heartbeatMs);
          if (batch === undefined) break;
          if (batch.length === 0) {
            await stream.write(': heartbeat\n\n');
            continue;
          }
          // One write per batch (a write is a system call): the events up to a terminal one.
          const end = batch.findIndex((stored) => isTerminalEvent(stored.event));
          const sent = end === -1 ? batch : batch.slice(0, end + 1);
          await stream.write(sent.map(sseMessageOf).join(''));
          if (end !== -1) return;
        }
        if (deps.reader.closing && !stream.aborted) {
          // Another replica takes the reconnect; Last-Event-ID resumes without a gap.
          await stream.write(`: server shutting down, reconnect with Last-Event-ID\n\n`);
        }
      } catch (error) {
        if (stream.aborted) return;
        deps.logger.warn({ err: error, queryId }, 'event stream interrupted');
        // The client reconnects with Last-Event-ID after `retry` ms and resumes without a gap.
        await stream.write(': interrupted, reconnect with Last-Event-ID\n\n');
      } finally {
        follower.close();
        deps.metrics.sseConnections.dec();
      }
    });
  }

  return app;
}
