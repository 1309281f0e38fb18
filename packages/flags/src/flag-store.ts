import { FLAG_NAMES, FlagChange, type FlagName, FlagRule } from '@assistant/contracts';
import { type Keys, loadLua, type RedisClient } from '@assistant/queue';
import { z } from 'zod';

const setFlagScript = loadLua(new URL('./lua/set-flag.lua', import.meta.url));

/** Changes the log keeps (newest first); older ones are dropped. */
const MAX_CHANGES = 10_000;

/** A runtime override as stored: the rule, and when and by whom it was set. */
export const StoredOverride = z.object({ rule: FlagRule, at: z.number().int(), actor: z.string() });
export type StoredOverride = z.infer<typeof StoredOverride>;

/** The overrides at one version; `raw` keeps each stored text for compare-and-set. */
export type FlagOverrides = {
  version: number;
  overrides: Partial<Record<FlagName, StoredOverride & { raw: string }>>;
};

/** Who changes a flag, and why. */
export type FlagActor = { actor: string; reason?: string | undefined };

/**
 * Redis-backed flag overrides: read (what the snapshots poll), set or clear one (atomically with
 * the version bump and the change log), and list the change log.
 */
export function createFlagStore(redis: RedisClient, keys: Keys, deps: { now: () => number }) {
  const scriptKeys = [keys.flagRules(), keys.flagVersion(), keys.flagChanges()];

  function parseOverride(raw: string): StoredOverride | undefined {
    try {
      const parsed = StoredOverride.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async function write(
    name: FlagName,
    rule: FlagRule | undefined,
    who: FlagActor,
    expected: string | '*',
  ): Promise<{ applied: boolean; before: StoredOverride | undefined }> {
    const at = deps.now();
    const after = rule ? JSON.stringify({ rule, at, actor: who.actor } satisfies StoredOverride) : '';
    const head = [
      `"flag":${JSON.stringify(name)}`,
      `"actor":${JSON.stringify(who.actor)}`,
      `"reason":${JSON.stringify(who.reason ?? null)}`,
      `"at":${JSON.stringify(new Date(at).toISOString())}`,
    ].join(',');
    const [applied, before] = (await setFlagScript.run(redis, scriptKeys, [
      name,
      after,
      expected,
      head,
      MAX_CHANGES,
    ])) as [number, string];
    return { applied: applied === 1, before: before ? parseOverride(before) : undefined };
  }

  return {
    /** The flags version: moves on every change. */
    async version(): Promise<number> {
      return Number((await redis.get(keys.flagVersion())) ?? 0);
    },

    /** Every override (unreadable entries are skipped) and the version they belong to. */
    async read(): Promise<FlagOverrides> {
      const [[, version], [, rules]] = (await redis
        .multi()
        .get(keys.flagVersion())
        .hgetall(keys.flagRules())
        .exec()) as [[null, string | null], [null, Record<string, string>]];
      const overrides: FlagOverrides['overrides'] = {};
      for (const name of FLAG_NAMES) {
        const raw = rules[name];
        const parsed = raw === undefined ? undefined : parseOverride(raw);
        if (raw !== undefined && parsed) overrides[name] = { ...parsed, raw };
      }
      return { version: Number(version ?? 0), overrides };
    },

    /** Sets a flag's override (`rule`) or clears it (`undefined`: back to the default). */
    set(name: FlagName, rule: FlagRule | undefined, who: FlagActor) {
      return write(name, rule, who, '*');
    },

    /** Sets the override only if it is still `expectedRaw` (its stored text): the canary guard's rollback. */
    setIfUnchanged(name: FlagName, rule: FlagRule, who: FlagActor, expectedRaw: string) {
      return write(name, rule, who, expectedRaw);
    },

    /** The change log, newest first, optionally of one flag. */
    async changes(options: { flag?: FlagName; limit: number }): Promise<FlagChange[]> {
      // One flag's changes may be spread through the log: scan a bounded stretch of it.
      const span = options.flag ? MAX_CHANGES : options.limit;
      const raw = await redis.lrange(keys.flagChanges(), 0, span - 1);
      const out: FlagChange[] = [];
      for (const text of raw) {
        const parsed = FlagChange.extend({
          before: StoredOverride.nullable(),
          after: StoredOverride.nullable(),
        }).safeParse(JSON.parse(text));
        if (!parsed.success) continue;
        if (options.flag && parsed.data.flag !== options.flag) continue;
        out.push({
          ...parsed.data,
          before: parsed.data.before?.rule ?? null,
          after: parsed.data.after?.rule ?? null,
        });
        if (out.length >= options.limit) break;
      }
      return out;
    },
  };
}

/** The flag store's interface. */
export type FlagStore = ReturnType<typeof createFlagStore>;
