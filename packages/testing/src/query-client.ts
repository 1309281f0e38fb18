import type { Redis } from 'ioredis';
import { readSse } from './sse-client.ts';

/** The fields of `GET /v1/queries/:id` the system tests look at. */
export type QueryView = {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  query: string;
  answer: string | null;
  model: string | null;
  cached: boolean;
  cost_usd: number | null;
  truncated: boolean | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  error: { code: string; message: string } | null;
};

/** One event of a query, from its SSE stream or straight from its Redis Stream. */
export type QueryEventRecord = { id: string; type: string; payload: Record<string, unknown> };

/** A `POST /v1/queries` as the client saw it. */
export type SubmitResponse = {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  /** The query id, when accepted (202) or answered from cache (200). */
  id?: string;
};

/** A small HTTP client of the query API, for system tests. */
export type QueryClient = {
  submit(
    query: string,
    options?: { timeoutMs?: number; headers?: Record<string, string> },
  ): Promise<SubmitResponse>;
  /** `GET /v1/queries/:id`, long-polling up to `waitSeconds`. */
  view(id: string, waitSeconds?: number): Promise<QueryView>;
  /** Long-polls until the query is `succeeded` or `failed`; throws after `timeoutMs`. */
  waitFinished(id: string, timeoutMs?: number): Promise<QueryView>;
  /**
   * Reads `GET /v1/queries/:id/events` until the stream ends (the server closes it after the
   * terminal event) or `until` returns true for an event; comments go to `onComment`.
   */
  readEvents(
    id: string,
    options?: {
      lastEventId?: string;
      until?: (event: QueryEventRecord) => boolean;
      onComment?: (text: string) => void;
      signal?: AbortSignal;
    },
  ): Promise<QueryEventRecord[]>;
};

/**
 * Creates a {@link QueryClient} for one user. `baseUrl` is a function so a test can swap the API
 * process (a restart) under a client.
 */
export function createQueryClient(baseUrl: () => string, apiKey: string): QueryClient {
  const auth = { authorization: `Bearer ${apiKey}` };

  async function view(id: string, waitSeconds = 0): Promise<QueryView> {
    const res = await fetch(`${baseUrl()}/v1/queries/${id}${waitSeconds > 0 ? `?wait=${waitSeconds}` : ''}`, {
      headers: auth,
    });
    if (res.status !== 200) throw new Error(`GET /v1/queries/${id}: ${res.status} ${await res.text()}`);
    return (await res.json()) as QueryView;
  }

  return {
    async submit(query, options = {}) {
      const res = await fetch(`${baseUrl()}/v1/queries`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', ...options.headers },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      return {
        status: res.status,
        headers: res.headers,
        body,
        ...(typeof body.id === 'string' ? { id: body.id } : {}),
      };
    },
    view,
    async waitFinished(id, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const remaining = Math.ceil((deadline - Date.now()) / 1000);
        const current = await view(id, Math.max(1, Math.min(remaining, 20)));
        if (current.status === 'succeeded' || current.status === 'failed') return current;
        if (Date.now() >= deadline) {
          throw new Error(`query ${id} still ${current.status} after ${timeoutMs} ms`);
        }
      }
    },
    async readEvents(id, options = {}) {
      const res = await fetch(`${baseUrl()}/v1/queries/${id}/events`, {
        headers: { ...auth, ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}) },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (res.status !== 200 || !res.body) throw new Error(`GET /v1/queries/${id}/events: ${res.status}`);
      const events: QueryEventRecord[] = [];
      await readSse(
        res.body,
        (event) => {
          const record = {
            id: event.id ?? '',
            type: event.event,
            payload: JSON.parse(event.data) as Record<string, unknown>,
          };
          events.push(record);
          return options.until?.(record) ? 'stop' : undefined;
        },
        options.onComment,
      );
      return events;
    },
  };
}

/**
 * Every event stored in one query's Redis Stream (`key` from `createKeys(prefix).events(id)`), in
 * order. Unlike SSE, which ends at the first terminal event, this shows any second one.
 */
export async function readStoredEvents(redis: Redis, key: string): Promise<QueryEventRecord[]> {
  const entries = (await redis.xrange(key, '-', '+')) as [string, string[]][];
  return entries.map(([id, fields]) => {
    const data = fields[fields.indexOf('data') + 1] ?? '{}';
    const payload = JSON.parse(data) as Record<string, unknown>;
    return { id, type: String(payload.type ?? fields[fields.indexOf('type') + 1]), payload };
  });
}

/** What a query's event log says about how it ran. */
export type AttemptSummary = {
  /** `started` events: one per attempt that began (a crash or a retry adds one). */
  starts: number;
  /** `restart` events: a model failed after sending tokens and the answer starts over. */
  restarts: number;
  /** `done` and `error` events, in order. */
  terminals: QueryEventRecord[];
  /** Some `token` came before a later `started` or `restart`: an answer was cut and begun again. */
  interrupted: boolean;
  /** The tokens after the last `started`/`restart`: what a client that honours restarts shows. */
  finalText: string;
};

/**
 * Summarises an event log the way a client must read it: a `started` after tokens, or a
 * `restart`, voids the tokens before it.
 */
export function summarizeAttempts(events: readonly QueryEventRecord[]): AttemptSummary {
  let starts = 0;
  let restarts = 0;
  let interrupted = false;
  let tokens: string[] = [];
  const terminals: QueryEventRecord[] = [];
  for (const event of events) {
    if (event.type === 'started' || event.type === 'restart') {
      if (event.type === 'started') starts++;
      else restarts++;
      if (tokens.length > 0) interrupted = true;
      tokens = [];
    } else if (event.type === 'token') {
      tokens.push(String(event.payload.text));
    } else if (event.type === 'done' || event.type === 'error') {
      terminals.push(event);
    }
  }
  return { starts, restarts, terminals, interrupted, finalText: tokens.join('') };
}
