import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import type { StoredEvent } from '@assistant/queue';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';

/** The writing end of one server-sent event response, given to {@link streamSse}'s `run`. */
export type SseStream = {
  /**
   * Writes SSE text. Resolves `true` once more may be written: at once while the connection keeps
   * up, else when its buffer has drained (a slow client holds back only its own stream); `false`
   * once the client is gone. Never rejects.
   */
  write(text: string): Promise<boolean>;
  /** Whether the client went away before the stream ended. */
  readonly aborted: boolean;
  /** Runs `listener` once if the client goes away before the stream ended. */
  onAbort(listener: () => void): void;
};

/**
 * One stored event as an SSE message. The fields need no escaping: ids are stream ids, types come
 * from the contract, and JSON text holds no raw line break.
 */
export function sseMessageOf(stored: StoredEvent): string {
  return `event: ${stored.event.type}\ndata: ${JSON.stringify(stored.event)}\nid: ${stored.id}\n\n`;
}

/** What @hono/node-server passes as `c.env`: the request's own Node objects. */
type NodeBindings = { outgoing?: unknown };

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

function isHttp1Response(value: unknown): value is ServerResponse {
  return typeof value === 'object' && value !== null && 'writeHead' in value && 'socket' in value;
}

/** An {@link SseStream} over a Node writable: `close` before `finish` means the client left. */
function sseStreamOver(out: Writable): SseStream & { end(): void } {
  let aborted = false;
  let ended = false;
  const listeners: (() => void)[] = [];
  out.once('close', function onClose() {
    if (ended && out.writableFinished) return;
    aborted = true;
    for (const listener of listeners.splice(0)) listener();
  });
  // A reset connection errors the response too; `close` follows and tells the listeners.
  out.on('error', () => {});
  return {
    write(text) {
      if (aborted || out.destroyed) return Promise.resolve(false);
      if (out.write(text)) return Promise.resolve(true);
      return new Promise((resolve) => {
        function settle() {
          out.off('drain', settle);
          out.off('close', settle);
          resolve(!aborted && !out.destroyed);
        }
        out.on('drain', settle);
        out.on('close', settle);
      });
    },
    get aborted() {
      return aborted;
    },
    onAbort(listener) {
      if (aborted) listener();
      else listeners.push(listener);
    },
    end() {
      ended = true;
      if (!out.destroyed) out.end();
    },
  };
}

/**
 * The one home of SSE writing: answers the request with a `text/event-stream` and calls `run` to
 * fill it; the response ends when `run` settles (a rejection is swallowed: `run` writes its own
 * ending). Under @hono/node-server it writes straight to the request's `ServerResponse` and hands
 * Hono `RESPONSE_ALREADY_SENT`, instead of a Web `TransformStream` piped through a
 * `ReadableStream` per response: about 18 KB less retained heap per open stream, 29 -> 11 KB
 * (docs/performance.md, "SSE fan-out"). Elsewhere (`app.request` in tests) the same writes go through a Node writable
 * that feeds the Response's body. Headers set on `c` before (the request id) are sent too.
 * Errors must be thrown before calling this: they still become JSON error responses.
 *
 * @example
 * return streamSse(c, async (stream) => {
 *   await stream.write('retry: 2000\n\n');
 * });
 */
export function streamSse(c: Context, run: (stream: SseStream) => Promise<void>): Response {
  const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
  if (isHttp1Response(outgoing)) {
    const headers: Record<string, string> = {};
    for (const [name, value] of c.res.headers) headers[name] = value;
    Object.assign(headers, SSE_HEADERS);
    outgoing.writeHead(200, headers);
    outgoing.flushHeaders();
    relay(sseStreamOver(outgoing), run);
    return RESPONSE_ALREADY_SENT;
  }
  const { sink, body } = webBody();
  relay(sseStreamOver(sink), run);
  for (const [name, value] of Object.entries(SSE_HEADERS)) c.header(name, value);
  return c.body(body, 200);
}

/**
 * For `app.request` (tests, no socket): a Node writable whose writes become a Web body. A
 * cancelled body destroys the writable, which the stream sees as the client leaving.
 */
function webBody(): { sink: Writable; body: ReadableStream<Uint8Array> } {
  let sink: Writable | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          controller.enqueue(new Uint8Array(chunk));
          done();
        },
        final(done) {
          controller.close();
          done();
        },
      });
    },
    cancel() {
      sink?.destroy();
    },
  });
  return { sink: sink!, body };
}

function relay(stream: SseStream & { end(): void }, run: (stream: SseStream) => Promise<void>): void {
  run(stream)
    .catch(() => {})
    .finally(() => stream.end());
}
