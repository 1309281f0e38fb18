/**
 * A short stable label for a failed request: the socket error code (ECONNRESET, ECONNREFUSED,
 * UND_ERR_CONNECT_TIMEOUT, …) undici puts on `error.cause`, else the error's name. A request the
 * run itself cut off at its time limit is `cut_off_at_time_limit`, not a transport error of the server.
 */
export function transportErrorKind(error: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return 'cut_off_at_time_limit';
  if (!(error instanceof Error)) return 'unknown';
  const cause = (error as { cause?: unknown }).cause;
  if (cause && typeof cause === 'object') {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (cause instanceof Error && cause.name !== 'Error') return cause.name;
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error.name === 'Error' ? error.message.slice(0, 60) : error.name;
}
