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
    const body = response.body.pipeThrough(
      createDoneScanner(() => {
        done = true;
      }),
    );
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

/** A pass-through stream that calls `onDone` when a complete `data: [DONE]` line goes by. */
function createDoneScanner(onDone: () => void): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let partial = '';
  return new TransformStream({
    transform(chunk, controller) {
      // Scan before forwarding: the client stops reading at [DONE], so the flag must be set by then.
      const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
      partial = lines.pop() ?? '';
      if (lines.some((line) => /^data: ?\[DONE\]\r?$/.test(line))) onDone();
      controller.enqueue(chunk);
    },
  });
}
