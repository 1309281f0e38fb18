import { CliError, EXIT } from './cli-error.ts';

/** Options of {@link createApiClient}. */
export type ApiClientOptions = {
  /** Base URL of the API, such as `http://127.0.0.1:3000`. */
  url: string;
  /** Bearer credential: a user's API key or the admin token; `undefined` for none. */
  token: string | undefined;
  /** What to tell the user when the token is missing or refused (which flag or variable). */
  tokenHint: string;
};

/** A JSON call's answer: status, headers and parsed body. */
export type ApiResponse<T> = { status: number; headers: Headers; body: T };

type ErrorBody = { error?: { code?: string; message?: string } };

/** Why `fetch` failed: it says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND…) is what helps. */
function causeOf(error: unknown): string {
  if (error instanceof Error && error.cause instanceof Error) {
    const code = (error.cause as NodeJS.ErrnoException).code;
    return code && !error.cause.message.includes(code)
      ? `${code}: ${error.cause.message}`
      : error.cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Seconds to wait, from `Retry-After` (seconds or an HTTP date). */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The API over HTTP. Every failure becomes a {@link CliError} whose message says what to do:
 * an unreachable API, a missing or refused key, a rate limit with its wait, any other error with
 * the API's own `code` and message.
 */
export function createApiClient(options: ApiClientOptions) {
  const base = options.url.replace(/\/+$/, '');

  function requireToken(): string {
    if (!options.token) throw new CliError(`no credentials: ${options.tokenHint}`, EXIT.usage);
    return options.token;
  }

  /** Sends one request; the response is returned unread (for streams). */
  async function send(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ) {
    const headers: Record<string, string> = { authorization: `Bearer ${requireToken()}`, ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${base}${path}`, {
        method,
        headers,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new CliError(
        `cannot reach the API at ${base} (${causeOf(error)}); is it running (\`npm start\`)?`,
      );
    }
  }

  /** Turns a non-2xx response into the {@link CliError} the user sees. */
  async function failure(method: string, path: string, res: Response): Promise<CliError> {
    const text = await res.text().catch(() => '');
    let parsed: ErrorBody = {};
    try {
      parsed = JSON.parse(text) as ErrorBody;
    } catch {
      // Not this API's JSON (a proxy's page?): show the status and the start of the body.
    }
    const code = parsed.error?.code ?? `http_${res.status}`;
    const message = parsed.error?.message ?? (text.slice(0, 200) || res.statusText);
    if (res.status === 401 || res.status === 403) {
      return new CliError(`the API refused the credentials (${code}: ${message}); ${options.tokenHint}`);
    }
    if (res.status === 429 || res.status === 503) {
      const wait = retryAfterSeconds(res.headers);
      const after = wait === undefined ? '' : `; retry in ${wait} s`;
      return new CliError(
        `${res.status === 429 ? 'rate-limited' : 'unavailable'} (${code}): ${message}${after}`,
      );
    }
    return new CliError(`${method} ${path} failed (${res.status} ${code}): ${message}`);
  }

  return {
    url: base,
    send,
    failure,
    /** A JSON request; a non-2xx answer throws. */
    async call<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
      const res = await send(method, path, { body });
      if (!res.ok) throw await failure(method, path, res);
      const text = await res.text();
      try {
        return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
      } catch {
        throw new CliError(`${method} ${path}: the API answered ${res.status} with a body that is not JSON`);
      }
    },
  };
}

/** The client {@link createApiClient} returns. */
export type ApiClient = ReturnType<typeof createApiClient>;
