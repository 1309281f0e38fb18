import type { GenerationListenerHandlers } from '@assistant/db';
import { LRUCache } from 'lru-cache';

/** Collaborators of {@link createPostgresGenerations}. */
export type PostgresGenerationsDeps = {
  /** Reads a user's generation from Postgres (once per user while listening). */
  load: (userId: string) => Promise<number>;
};

/** Options of {@link createPostgresGenerations}. */
export type PostgresGenerationsOptions = {
  /** Users whose generation is kept. @defaultValue 100000 */
  maxUsers?: number;
};

/**
 * Each user's notes generation as Postgres has it, known in this process without a query per
 * request: read once per user, then kept current by the generation announcements (see
 * `listenToGenerations`). Only while the listener is in place: a loss forgets everything, and
 * until it listens again `current` answers `undefined` (the caller asks Postgres itself).
 *
 * The answer cache uses it to serve a hit without reading Postgres: a key under this generation
 * proves every cited note current, even when the Redis mirror of the generation missed a bump
 * (a publish that failed, a Redis restored from an older copy).
 *
 * @example
 * const generations = createPostgresGenerations({ load: (id) => notes.generation(id) });
 * const listener = listenToGenerations(databaseUrl, generations.handlers);
 * await listener.start();
 * const known = await generations.current(userId); // undefined while not listening
 */
export function createPostgresGenerations(
  deps: PostgresGenerationsDeps,
  options: PostgresGenerationsOptions = {},
) {
  const known = new LRUCache<string, number>({ max: options.maxUsers ?? 100_000 });
  let listening = false;
  // Bumped on every listen and loss: a load begun in an earlier session must not fill this one.
  let session = 0;

  function raise(userId: string, generation: number): number {
    const current = known.get(userId);
    const value = current === undefined ? generation : Math.max(current, generation);
    known.set(userId, value);
    return value;
  }

  const handlers: GenerationListenerHandlers = {
    onListening() {
      session += 1;
      known.clear();
      listening = true;
    },
    onLost() {
      session += 1;
      known.clear();
      listening = false;
    },
    onGeneration(userId, generation) {
      // Complete knowledge for this user: every later bump is announced too.
      if (listening) raise(userId, generation);
    },
  };

  return {
    handlers,
    /**
     * The user's generation in Postgres: at least every bump committed before the listener was in
     * place or announced since; `undefined` while not listening. A number when already known (no
     * await needed), else a promise of one read.
     */
    current(userId: string): number | undefined | Promise<number | undefined> {
      if (!listening) return undefined;
      const value = known.get(userId);
      if (value !== undefined) return value;
      const started = session;
      return deps.load(userId).then((loaded) => (started === session ? raise(userId, loaded) : undefined));
    },
  };
}

/** The known generations' interface. */
export type PostgresGenerations = ReturnType<typeof createPostgresGenerations>;
