import { type LedgerOf, type QueriesRepo, type QueryRow, servedRowCodec } from '@assistant/db';
import type { ServedHitEntry, ServedHitsReader } from '@assistant/queue';
import type { Logger } from '@assistant/telemetry';

/** Options of {@link createServedHitsWriter}. */
export type ServedHitsWriterOptions = {
  /** Log entries stored per Postgres transaction. */
  batchSize: number;
  /** How long one read waits for new entries (also the longest a stop waits for it). */
  blockMs: number;
  /** Entries another writer left pending this long are taken over (that writer died). */
  claimIdleMs: number;
  /** Pause after a failed batch (Postgres or Redis down) before trying again. */
  retryMs: number;
  /**
   * Pause after a batch that was not full, so the next read gathers what arrived meanwhile: at a
   * low rate each hit would otherwise cost a whole transaction (about eight statements). The hit
   * is durable in the log and readable from its row copy during the pause. @defaultValue 0
   */
  lingerMs?: number;
};

/** Collaborators of {@link createServedHitsWriter}. */
export type ServedHitsWriterDeps = {
  reader: ServedHitsReader;
  /**
   * The log of older releases (`keys.legacyServedHits`), drained alongside now and then (every
   * `claimIdleMs`): hits a process of the previous release served are stored too.
   */
  legacy?: ServedHitsReader;
  queries: Pick<QueriesRepo, 'insertServed'>;
  ledgerOf: LedgerOf;
  logger: Pick<Logger, 'warn' | 'error'>;
  now: () => number;
  /** Told how many rows each batch stored (for a metric). */
  onStored?: (rows: number) => void;
};

/**
 * Stores the cache hits the API served ahead of Postgres (the served-hits log in Redis): every
 * API process runs one, in the log's consumer group, so each entry is stored by one of them.
 * An entry is acknowledged only after its batch committed; a batch that fails is read again
 * (this writer's pending entries first), and a writer that died leaves its entries pending until
 * another takes them over after `claimIdleMs`. Storing is idempotent (the row id is unique, the
 * ledger entry too), so an entry stored twice changes nothing.
 */
export function createServedHitsWriter(deps: ServedHitsWriterDeps, options: ServedHitsWriterOptions) {
  let stopping = false;
  let loop: Promise<void> | undefined;
  // Ends a pause early when the writer stops.
  let wake: (() => void) | undefined;

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stores a batch; returns how many entries it held. */
  async function store(entries: ServedHitEntry[], from = deps.reader): Promise<number> {
    if (entries.length === 0) return 0;
    const withdrawn = await from.withdrawn(entries.filter((e) => e.row !== '').map((e) => e.queryId));
    const rows: QueryRow[] = [];
    for (const entry of entries) {
      if (entry.row === '' || withdrawn.has(entry.queryId)) continue;
      try {
        rows.push(servedRowCodec.decode(entry.row));
      } catch (error) {
        // Nothing can store it; keeping it would block nothing but fill the log.
        deps.logger.error({ err: error, entry: entry.entryId }, 'unreadable served-hit entry dropped');
      }
    }
    const stored = await deps.queries.insertServed(rows, deps.ledgerOf);
    await from.ack(entries.map((e) => e.entryId));
    deps.onStored?.(stored);
    return entries.length;
  }

  /** Stores what the legacy log holds now: its stale pending entries, then its new ones. */
  async function drainLegacy(legacy: ServedHitsReader): Promise<void> {
    await store(await legacy.claimStale(options.claimIdleMs, options.batchSize), legacy);
    while ((await store(await legacy.read(options.batchSize), legacy)) === options.batchSize && !stopping) {}
  }

  async function run(): Promise<void> {
    await deps.reader.ensureGroup();
    // This writer's own unacknowledged entries (a batch that failed, or a restart under the same
    // name) come first; then new ones, with other writers' stale ones taken over now and then.
    let ownPending = true;
    let claimedAt = Number.NEGATIVE_INFINITY;
    while (!stopping) {
      try {
        if (ownPending) {
          const pending = await deps.reader.readPending(options.batchSize);
          await store(pending);
          ownPending = pending.length === options.batchSize;
          continue;
        }
        if (deps.now() - claimedAt >= options.claimIdleMs) {
          claimedAt = deps.now();
          await store(await deps.reader.claimStale(options.claimIdleMs, options.batchSize));
          if (deps.legacy && (await deps.legacy.ensureGroup())) await drainLegacy(deps.legacy);
        }
        const read = await store(await deps.reader.read(options.batchSize, options.blockMs));
        if (read > 0 && read < options.batchSize && options.lingerMs) await pause(options.lingerMs);
      } catch (error) {
        if (stopping) return;
        deps.logger.warn({ err: error }, 'storing served cache hits failed; retrying');
        ownPending = true;
        await new Promise((resolve) => setTimeout(resolve, options.retryMs));
      }
    }
  }

  return {
    start(): void {
      loop ??= run();
    },
    /**
     * Stops after the current read or batch, waiting at most `blockMs` plus a second for it (a
     * read stuck on a Redis outage is left to the connection's close; its entries stay pending).
     */
    async stop(): Promise<void> {
      stopping = true;
      wake?.();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        loop,
        new Promise((resolve) => {
          timer = setTimeout(resolve, options.blockMs + 1_000);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

/** The writer's interface. */
export type ServedHitsWriter = ReturnType<typeof createServedHitsWriter>;
