/** What the wrapped `fetch` saw of the one HTTP exchange of a generation. */
export type ResponseProbe = {
  /** Pass to the client as its `fetch`. */
  readonly fetch: typeof fetch;
  /** Status of the last response, once headers arrived. */
  status(): number | undefined;
  /** Headers of the last response, once they arrived. */
  headers(): Headers | undefined;
  /** Whether an event-stream body carried a `data: [DONE]` line. */
  sawDone(): boolean;
  /** HTTP requests made through this probe (1 unless something retried). */
  requests(): number;
};

/**
 * Wraps `fetch` to watch the exchange from below the client.
 *
 * Why: `@huggingface/inference` (4.13) returns from its stream generator both on
 * `data: [DONE]` and on a plain end of body, so a cut stream looks like a finished one; and
 * its errors carry the status but not the headers (no `Retry-After`). The probe passes an
 * event-stream body through a line scanner that notes `[DONE]`, and keeps status and headers.
 * Checking `[DONE]` rather than "saw a finish_reason" is the stricter test: it also catches a
 * stream cut between the finish chunk and the usage chunk, which would lose the usage.
 */
export function createResponseProbe(baseFetch: typeof fetch): ResponseProbe {
  let status: number | undefined;
  let headers: Headers | undefined;
  let done = false;
  let requests = 0;

  const probeFetch: typeof fetch = async function probeFetch(input, init) {
    requests++;
    const response = await baseFetch(input, init);
    status = response.status;
    headers = response.headers;
    const isEventStream = response.headers.get('content-type')?.startsWith('text/event-stream') ?? false;
    if (!response.ok || !isEventStream || !response.body) return response;
    const body = scanForDone(response.body, () => {
      done = true;
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };

  return {
    fetch: probeFetch,
    status: () => status,
    headers: () => headers,
    sawDone: () => done,
    requests: () => requests,
  };
}

/**
 * The body passed through as it is read, calling `onDone` when a complete `data: [DONE]` line
 * goes by. A pulling stream over the body's reader rather than `pipeThrough` a `TransformStream`:
 * the same chunks, errors and cancellation, for about 10 µs of CPU per 25-chunk answer instead
 * of 75–150 µs (a pipe runs a promise loop of its own per chunk; measured on Node 20).
 */
function scanForDone(source: ReadableStream<Uint8Array>, onDone: () => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const decoder = new TextDecoder();
  let partial = '';
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      // Scan before forwarding: the client stops reading at [DONE], so the flag must be set by then.
      const lines = (partial + decoder.decode(value, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      if (lines.some((line) => /^data: ?\[DONE\]\r?$/.test(line))) onDone();
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
