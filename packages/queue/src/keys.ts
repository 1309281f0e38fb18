/** Every queue the service runs. */
export const QUEUE_NAMES = {
  answer: 'answer-query',
  indexNotes: 'index-notes',
} as const;

/**
 * Every Redis key the service writes is built here, under one prefix, so deployments and test
 * files can share a Redis without touching each other's keys.
 *
 * @example
 * const keys = createKeys('as');
 * keys.events('q_123'); // 'as:events:{q_123}'
 */
export function createKeys(prefix: string) {
  return {
    prefix,
    /**
     * BullMQ's key prefix for one queue (its keys live under `${bullPrefix(queue)}:${queue}:*`).
     * BullMQ's scripts touch many keys of a queue at once, so the queue name is the prefix's hash
     * tag: one queue's keys share a slot in a cluster, and each queue has a slot of its own.
     */
    bullPrefix: (queue: string) => `${prefix}:bull:{${queue}}`,
    /** Redis Stream of one query's events. The hash tag keeps it on one slot in a cluster. */
    events: (queryId: string) => `${prefix}:events:{${queryId}}`,
    /** The job token of the run that may append to a query's stream (same slot as the stream). */
    eventsOwner: (queryId: string) => `${prefix}:events-owner:{${queryId}}`,
    /** Pub/sub channel told the id of every append to a query's stream (API readers wake on it). */
    eventsNotify: (queryId: string) => `${prefix}:events-notify:{${queryId}}`,
    /** Counter bumped on every note change of a user; part of every answer-cache key. */
    notesGeneration: (userId: string) => `${prefix}:notes-gen:{${userId}}`,
    /**
     * Pub/sub channel of revoked API keys (message: the key's SHA-256 hex), so every API process
     * evicts it from its key cache. Channels ignore the database index: the prefix is what
     * keeps deployments and test files apart.
     */
    keyRevocations: () => `${prefix}:key-revocations`,
    // --- limits (packages/limits) ---
    // The admission script checks a user's windows, the global window and both daily budgets in
    // one call, and a cluster runs a script only on keys of one slot: so every key it touches
    // shares the `{limits}` tag (one user's keys, and the global ones, on one slot). Every admission
    // updates the global counters anyway, so that slot adds no contention of its own.
    /** One user's sliding-window buckets (HASH bucket index → count) for a window. */
    limitsUserWindow: (userId: string, window: 'minute' | 'hour' | 'day') =>
      `${prefix}:{limits}:window:${window}:u:${userId}`,
    /** The global hourly window's buckets (HASH bucket index → count). */
    limitsGlobalWindow: () => `${prefix}:{limits}:window:hour:global`,
    /** A user's queued + running query ids (ZSET query id → expiry ms), for the in-flight cap. */
    limitsInFlight: (userId: string) => `${prefix}:{limits}:in-flight:u:${userId}`,
    /** A user's budget today (HASH `day`, `spent`, `reserved`, `r:<queryId>` → micro-dollars). */
    limitsUserBudget: (userId: string) => `${prefix}:{limits}:budget:u:${userId}`,
    /** Expiry index of a user's open reservations (ZSET query id → expiry ms). */
    limitsUserReservations: (userId: string) => `${prefix}:{limits}:reservations:u:${userId}`,
    /** The global budget today (HASH, same fields as a user's). */
    limitsGlobalBudget: () => `${prefix}:{limits}:budget:global`,
    /** Expiry index of all open reservations (ZSET query id → expiry ms). */
    limitsGlobalReservations: () => `${prefix}:{limits}:reservations:global`,
    /** Marker that a query's cost was settled (settle counts once per query id). */
    limitsSettled: (queryId: string) => `${prefix}:{limits}:settled:${queryId}`,
    /** A user's worker run-slot leases (ZSET job id → lease expiry ms); one slot per user. */
    limitsRunSlots: (userId: string) => `${prefix}:limits:run-slots:{${userId}}`,
    // --- caches (packages/cache) ---
    // Purge epochs: INCR'd by a purge, read with the generation in one MGET, folded into every
    // answer-cache key. No TTL: a counter that expired would restart at 0 and revive old answers.
    // The global and tier epochs belong to no user, so no tag can put them on a user's slot: on a
    // cluster that read is one MGET per slot (`mgetAnySlots`). Nor are they renamed for a tag: a
    // renamed epoch would restart at 0 too.
    /** Epoch of `purge({ scope: 'all' })`. */
    cacheEpochGlobal: () => `${prefix}:cache-epoch:global`,
    /** Epoch of `purge({ scope: 'tier', tier })`. */
    cacheEpochTier: (tier: string) => `${prefix}:cache-epoch:tier:${tier}`,
    /** Epoch of `purge({ scope: 'user', userId })`. */
    cacheEpochUser: (userId: string) => `${prefix}:cache-epoch:user:{${userId}}`,
    /** One exact cached answer (STRING, JSON); `hash` covers query, settings, tier and epochs. */
    answerCache: (userId: string, generation: number, hash: string) =>
      `${prefix}:answer:{${userId}}:${generation}:${hash}`,
    /** A user's semantic-cache entries, newest first (LIST of id + fingerprints + float32 vector). */
    semanticIndex: (userId: string, generation: number, scope: string) =>
      `${prefix}:semantic:{${userId}}:${generation}:${scope}:index`,
    /** The answers of those entries (HASH entry id → JSON); same slot as the index. */
    semanticAnswers: (userId: string, generation: number, scope: string) =>
      `${prefix}:semantic:{${userId}}:${generation}:${scope}:answers`,
    /**
     * One cached embedding (STRING, float32 little-endian) of a text under a model. No tag: the
     * vectors of every user's notes are the biggest data set, spread over the whole cluster; a
     * batch is read one MGET per slot, pipelined per node (`mgetBufferAnySlots`).
     */
    embeddingCache: (modelId: string, textHash: string) => `${prefix}:embedding:${modelId}:${textHash}`,
    /** The query now answering a question (single-flight): identical asks join it. */
    singleFlight: (userId: string, hash: string) => `${prefix}:flight:{${userId}}:${hash}`,
    // --- served cache hits (write-behind: apps/api/src/served-hits-writer.ts) ---
    // Both keys share the `{limits}` tag: the admission script that admits a hit also writes its
    // row copy and log entry, in the same call (one round trip; a refused hit records nothing).
    /** Log of cache hits served but not yet stored in Postgres (STREAM: `id`, `row` JSON). */
    servedHits: () => `${prefix}:{limits}:served:hits`,
    /** A served hit's row until Postgres has it (STRING, JSON), for `GET /v1/queries/:id`. */
    servedRow: (queryId: string) => `${prefix}:{limits}:served:row:${queryId}`,
    /**
     * The log and row copies of releases before hits were recorded by the admission script (the
     * `{served}` tag). Writers still drain it, so a rolling upgrade loses no hit an older process
     * served; drop it a release later.
     */
    legacyServedHits: () => `${prefix}:{served}:hits`,
    /** A row copy in the legacy log's slot. */
    legacyServedRow: (queryId: string) => `${prefix}:{served}:row:${queryId}`,
    // --- feature flags (packages/flags) ---
    // The three flag keys share the `{flags}` tag: the set script writes all three in one call.
    /** Runtime overrides (HASH flag name → JSON rule); a flag absent here has its config default. */
    flagRules: () => `${prefix}:{flags}:rules`,
    /** Bumped on every change: processes poll it and reload the rules when it moves. */
    flagVersion: () => `${prefix}:{flags}:version`,
    /** Every change, newest first (LIST of JSON: flag, actor, reason, at, before, after), capped. */
    flagChanges: () => `${prefix}:{flags}:changes`,
    /**
     * Canary counters of one flag's cohort (`in` or `out`) for one minute (HASH `n`, `err`,
     * `down`, `l<bucket>` → count); `since` is the rollout's start, so a new rollout starts afresh.
     * The `{canary}` tag: one pipeline counts a question for every watched flag, another reads a
     * cohort's minutes, and a cluster sends a pipeline to one node. A few small hashes a minute.
     */
    canaryStats: (flag: string, since: number, cohort: 'in' | 'out', minute: number) =>
      `${prefix}:{canary}:${flag}:${since}:${cohort}:${minute}`,
  };
}

/** The key builder's type. */
export type Keys = ReturnType<typeof createKeys>;
