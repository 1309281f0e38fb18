const encoder = new TextEncoder();

/** A response body the fake writes SSE text into, and learns from when the client leaves. */
export type SseStream = {
  readonly body: ReadableStream<Uint8Array>;
  /** Aborted when the client disconnects (or the body is cancelled). */
  readonly signal: AbortSignal;
  /** Sends one `data: <json>` event. */
  data(payload: unknown): void;
  /** Sends raw text, e.g. `data: [DONE]\n\n` or a `: keep-alive` comment. */
  raw(text: string): void;
  /** Ends the body cleanly (a chunked response's last chunk). */
  close(): void;
};

/**
 * Creates an SSE body. `requestSignal` is the incoming request's signal: @hono/node-server
 * aborts it when the socket closes before the response finished.
 */
export function createSseStream(requestSignal: AbortSignal): SseStream {
  const cancelled = new AbortController();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let closed = false;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel(reason) {
      closed = true;
      cancelled.abort(reason);
    },
  });
  const signal = AbortSignal.any([requestSignal, cancelled.signal]);
  function raw(text: string): void {
    if (closed || signal.aborted) return;
    controller?.enqueue(encoder.encode(text));
  }
  return {
    body,
    signal,
    raw,
    data: function sendData(payload) {
      raw(`data: ${JSON.stringify(payload)}\n\n`);
    },
    close: function closeStream() {
      if (closed) return;
      closed = true;
      controller?.close();
    },
  };
}
