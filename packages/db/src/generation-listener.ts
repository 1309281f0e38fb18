import postgres from 'postgres';

/** The channel every notes-generation bump is announced on (payload `<user id>:<generation>`). */
export const NOTES_GENERATION_CHANNEL = 'notes_generation';

/** What a {@link listenToGenerations} listener is told. */
export type GenerationListenerHandlers = {
  /** LISTEN is in place: from now on every committed bump is announced. */
  onListening(): void;
  /** The connection was lost (or its heartbeat failed): announcements may have been missed. */
  onLost(): void;
  /** A committed bump: the user's generation in Postgres is now at least `generation`. */
  onGeneration(userId: string, generation: number): void;
};

/** Options of {@link listenToGenerations}. */
export type GenerationListenerOptions = {
  /** How often the connection is checked with a query. @defaultValue 5000 */
  heartbeatMs?: number;
  /** How long that check may take before the connection counts as lost. @defaultValue 2000 */
  heartbeatTimeoutMs?: number;
  /** Pause before listening again after a loss. @defaultValue 1000 */
  retryMs?: number;
};

/** Reads a `<user id>:<generation>` payload; `undefined` when it is not one. */
export function parseGenerationPayload(payload: string): { userId: string; generation: number } | undefined {
  const at = payload.lastIndexOf(':');
  const generation = Number(payload.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(generation)) return undefined;
  return { userId: payload.slice(0, at), generation };
}

/**
 * Listens on its own connection to {@link NOTES_GENERATION_CHANNEL}. A lost connection (closed, or
 * a heartbeat query that fails or hangs) is reported with `onLost` before anything else, then the
 * listener reconnects and reports `onListening` again: between the two, bumps may be missed.
 */
export function listenToGenerations(
  url: string,
  handlers: GenerationListenerHandlers,
  options: GenerationListenerOptions = {},
) {
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 2_000;
  const retryMs = options.retryMs ?? 1_000;
  let closed = false;
  let listening = false;
  let retry: NodeJS.Timeout | undefined;

  function lost(): void {
    if (!listening) return;
    listening = false;
    handlers.onLost();
    if (!closed) retry ??= setTimeout(start, retryMs);
  }

  // `onnotify` (channel, payload) is what postgres.js's own `listen` uses; its typings omit it.
  // The connection never idles out: it must stay to receive.
  const connection = {
    max: 1,
    connect_timeout: 5,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    onnotice: () => {},
    onclose: () => lost(),
    onnotify(channel: string, payload: string) {
      if (channel !== NOTES_GENERATION_CHANNEL || !listening) return;
      const parsed = parseGenerationPayload(payload);
      if (parsed) handlers.onGeneration(parsed.userId, parsed.generation);
    },
  };
  const sql = postgres(url, connection);

  async function start(): Promise<void> {
    retry = undefined;
    if (closed) return;
    try {
      await sql.unsafe(`listen ${NOTES_GENERATION_CHANNEL}`);
      if (closed) return;
      listening = true;
      handlers.onListening();
    } catch {
      if (!closed) retry ??= setTimeout(start, retryMs);
    }
  }

  // A connection that dies without closing (a host gone) is found by a query that never returns.
  const heartbeat = setInterval(() => {
    if (!listening) return;
    let timer: NodeJS.Timeout | undefined;
    Promise.race([
      sql`select 1`,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('heartbeat timed out')), heartbeatTimeoutMs);
      }),
    ])
      .catch(() => lost())
      .finally(() => clearTimeout(timer));
  }, heartbeatMs);
  heartbeat.unref();

  return {
    /** Starts listening (resolves once LISTEN is in place, or after the first failure). */
    start,
    get listening() {
      return listening;
    },
    async close(): Promise<void> {
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(retry);
      lost();
      await sql.end({ timeout: 1 });
    },
  };
}

/** The listener's interface. */
export type GenerationListener = ReturnType<typeof listenToGenerations>;
