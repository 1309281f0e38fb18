import { FLAG_NAMES, type FlagName, type FlagRule } from '@assistant/contracts';
import { defaultRules, ruleAllows } from './flag-rules.ts';
import type { FlagOverrides, FlagStore } from './flag-store.ts';

/** One flag as a process sees it now. */
export type EffectiveFlag = {
  name: FlagName;
  rule: FlagRule;
  source: 'default' | 'override';
  /** When the override was set (ms), 0 for a default: a canary window starts there. */
  since: number;
  /** The override's stored text (compare-and-set), `undefined` for a default. */
  raw?: string;
};

/** What the request path asks: no I/O, answered from memory. */
export type Flags = {
  /** Whether `name` is on for `userId` now. */
  enabled(name: FlagName, userId: string): boolean;
  /** Every flag as this process sees it. */
  all(): EffectiveFlag[];
  get(name: FlagName): EffectiveFlag;
};

/** Collaborators of {@link createFlagSnapshot}. */
export type FlagSnapshotDeps = {
  store: Pick<FlagStore, 'version' | 'read'>;
  defaultOff: readonly FlagName[];
  logger: { warn(fields: Record<string, unknown>, message: string): void };
  /** Called after each reload with the new view (e.g. to export gauges). */
  onReload?: (flags: EffectiveFlag[]) => void;
};

/** Options of {@link createFlagSnapshot}. */
export type FlagSnapshotOptions = {
  /** How often the version key is polled (ms). @defaultValue 1000 */
  refreshMs: number;
};

/**
 * An in-process copy of every flag, refreshed in the background: every `refreshMs` one `GET` of
 * the version key, and a full read only when it moved. `enabled()` never touches Redis, so a
 * flag costs the request path nothing; an override reaches every process within `refreshMs`
 * (plus one read). While Redis is unreachable the last copy stays in force (logged), and before
 * the first read succeeds the config defaults apply.
 *
 * @example
 * const flags = createFlagSnapshot({ store, defaultOff: config.flags.defaultOff, logger }, config.flags);
 * await flags.start();
 * if (flags.enabled('semantic_cache', userId)) { … }
 */
export function createFlagSnapshot(deps: FlagSnapshotDeps, options: FlagSnapshotOptions) {
  const defaults = defaultRules(deps.defaultOff);
  let version = -1;
  let view = new Map<FlagName, EffectiveFlag>();
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;

  function build(overrides: FlagOverrides['overrides']): Map<FlagName, EffectiveFlag> {
    const next = new Map<FlagName, EffectiveFlag>();
    for (const name of FLAG_NAMES) {
      const override = overrides[name];
      next.set(
        name,
        override
          ? { name, rule: override.rule, source: 'override', since: override.at, raw: override.raw }
          : { name, rule: defaults[name], source: 'default', since: 0 },
      );
    }
    return next;
  }
  view = build({});

  async function reload(force: boolean): Promise<void> {
    const current = await deps.store.version();
    if (!force && current === version) return;
    const read = await deps.store.read();
    version = read.version;
    view = build(read.overrides);
    deps.onReload?.([...view.values()]);
  }

  /** Reloads now (one at a time); `force` reads the rules even if the version did not move. */
  function refresh(force = false): Promise<void> {
    refreshing ??= reload(force).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  function get(name: FlagName): EffectiveFlag {
    // Every name is in the view (built over FLAG_NAMES); the fallback only satisfies the type.
    return view.get(name) ?? { name, rule: defaults[name], source: 'default', since: 0 };
  }

  return {
    enabled(name: FlagName, userId: string): boolean {
      return ruleAllows(name, get(name).rule, userId);
    },
    all: () => [...view.values()],
    get,
    refresh,
    /** The version of the copy in force (-1 before the first read). */
    version: () => version,
    /** Reads the flags once (a failure is logged; defaults apply until a read succeeds), then polls. */
    async start(): Promise<void> {
      await refresh(true).catch((err: unknown) =>
        deps.logger.warn({ err }, 'flags unavailable; using defaults'),
      );
      timer = setInterval(() => {
        refresh().catch((err: unknown) =>
          deps.logger.warn({ err }, 'flags refresh failed; keeping the last copy'),
        );
      }, options.refreshMs);
      timer.unref();
    },
    close(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  } satisfies Flags & Record<string, unknown>;
}

/** A running flag snapshot. */
export type FlagSnapshot = ReturnType<typeof createFlagSnapshot>;
