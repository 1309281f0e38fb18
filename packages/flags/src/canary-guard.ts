import type { FlagName } from '@assistant/contracts';
import { type CanaryStats, type CohortStats, p99Of } from './canary-stats.ts';
import { isPartialRollout } from './flag-rules.ts';
import type { EffectiveFlag, Flags } from './flag-snapshot.ts';
import type { FlagStore } from './flag-store.ts';

/** The rollback triggers of the product plan. */
export type CanaryTrigger = 'error_rate' | 'p99' | 'thumbs_down';

/** Thresholds and timing of the guard (`config.flags.canary`). */
export type CanaryOptions = {
  /** Cohort error rate above which (and above the rest's) a flag is rolled back. @defaultValue 0.1 */
  errorRate: number;
  /** Cohort p99 (ms) above which (and above the rest's). @defaultValue 15000 */
  p99Ms: number;
  /** Cohort thumbs-down in the last hour above which (at a higher rate than the rest). @defaultValue 5 */
  thumbsDownPerHour: number;
  /** Window of the error rate and p99 (ms). @defaultValue 300000 */
  windowMs: number;
  /** How long a trigger must hold before the rollback (ms). @defaultValue 120000 */
  holdMs: number;
  /** Questions a cohort needs in the window before its error rate or p99 is judged. @defaultValue 20 */
  minQueries: number;
  /** How often the guard runs (ms). @defaultValue 15000 */
  intervalMs: number;
};

/** Collaborators of {@link createCanaryGuard}. */
export type CanaryGuardDeps = {
  flags: Pick<Flags, 'all'> & { refresh(force?: boolean): Promise<void> };
  stats: Pick<CanaryStats, 'read'>;
  store: Pick<FlagStore, 'setIfUnchanged'>;
  now: () => number;
  logger: {
    warn(fields: Record<string, unknown>, message: string): void;
    error(fields: Record<string, unknown>, message: string): void;
  };
  /** A trigger started or stopped holding for a flag (the breach gauge). */
  onBreach?: (flag: FlagName, trigger: CanaryTrigger, holding: boolean) => void;
  /** A flag was rolled back (the rollback counter the alert fires on). */
  onRollback?: (flag: FlagName, trigger: CanaryTrigger) => void;
};

/** What one pass found for one flag. */
export type CanaryVerdict = {
  flag: FlagName;
  triggers: { trigger: CanaryTrigger; cohort: number; rest: number }[];
  rolledBack: boolean;
};

const HOUR_MS = 3_600_000;
const TRIGGERS: CanaryTrigger[] = ['error_rate', 'p99', 'thumbs_down'];

const rate = (count: number, n: number) => (n === 0 ? 0 : count / n);

/**
 * The canary guard: for every flag in partial rollout, compares its cohort (the users it is on
 * for) with the rest on the rollback triggers, and when one holds on every pass for `holdMs`,
 * sets the rollout to 0% (compare-and-set: an admin's change made meanwhile wins), records why
 * in the change log as `canary-guard`, and reports it (`onRollback`: the alert's counter). Runs
 * in every worker; the compare-and-set makes the first to decide the only one to roll back.
 */
export function createCanaryGuard(deps: CanaryGuardDeps, options: CanaryOptions) {
  // Since when each flag's trigger has held, keyed by flag and rollout start.
  const holding = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<CanaryVerdict[]> | undefined;

  function judge(cohort: CohortStats, rest: CohortStats, hourIn: CohortStats, hourRest: CohortStats) {
    const found: CanaryVerdict['triggers'] = [];
    if (cohort.n >= options.minQueries) {
      const errIn = rate(cohort.errors, cohort.n);
      const errRest = rate(rest.errors, rest.n);
      if (errIn > options.errorRate && errIn > errRest)
        found.push({ trigger: 'error_rate', cohort: errIn, rest: errRest });
      const p99In = p99Of(cohort);
      const p99Rest = p99Of(rest);
      if (p99In > options.p99Ms && p99In > p99Rest)
        found.push({ trigger: 'p99', cohort: p99In, rest: p99Rest });
    }
    // Thumbs-down are compared per answered question: the rest is most users, so it always has more.
    const downRateIn = rate(hourIn.down, Math.max(hourIn.n, 1));
    const downRateRest = rate(hourRest.down, Math.max(hourRest.n, 1));
    if (hourIn.down > options.thumbsDownPerHour && downRateIn > downRateRest) {
      found.push({ trigger: 'thumbs_down', cohort: hourIn.down, rest: hourRest.down });
    }
    return found;
  }

  async function check(flag: EffectiveFlag, now: number): Promise<CanaryVerdict> {
    const from = Math.max(flag.since, now - options.windowMs);
    const hourFrom = Math.max(flag.since, now - HOUR_MS);
    const [cohort, rest, hourIn, hourRest] = await Promise.all([
      deps.stats.read(flag.name, flag.since, 'in', from, now),
      deps.stats.read(flag.name, flag.since, 'out', from, now),
      deps.stats.read(flag.name, flag.since, 'in', hourFrom, now),
      deps.stats.read(flag.name, flag.since, 'out', hourFrom, now),
    ]);
    const triggers = judge(cohort, rest, hourIn, hourRest);
    const key = `${flag.name}:${flag.since}`;
    for (const trigger of TRIGGERS)
      deps.onBreach?.(
        flag.name,
        trigger,
        triggers.some((t) => t.trigger === trigger),
      );
    if (triggers.length === 0) {
      holding.delete(key);
      return { flag: flag.name, triggers, rolledBack: false };
    }
    const since = holding.get(key) ?? now;
    holding.set(key, since);
    if (now - since < options.holdMs || !flag.raw) return { flag: flag.name, triggers, rolledBack: false };

    const first = triggers[0]!;
    const reason = triggers
      .map((t) => `${t.trigger}: cohort ${round(t.cohort)} vs rest ${round(t.rest)}`)
      .join('; ');
    const result = await deps.store.setIfUnchanged(
      flag.name,
      { ...flag.rule, percentage: 0 },
      {
        actor: 'canary-guard',
        reason: `automatic rollback from ${flag.rule.percentage}% (${reason}), held ${Math.round((now - since) / 1000)} s`,
      },
      flag.raw,
    );
    holding.delete(key);
    if (result.applied) {
      deps.logger.error(
        { flag: flag.name, triggers, percentage: flag.rule.percentage },
        'canary guard rolled a flag back',
      );
      deps.onRollback?.(flag.name, first.trigger);
      for (const trigger of TRIGGERS) deps.onBreach?.(flag.name, trigger, false);
    }
    return { flag: flag.name, triggers, rolledBack: result.applied };
  }

  /** One pass over every flag in partial rollout; returns what it found. */
  async function tick(): Promise<CanaryVerdict[]> {
    const now = deps.now();
    const watched = deps.flags.all().filter((f) => f.source === 'override' && isPartialRollout(f.rule));
    const verdicts: CanaryVerdict[] = [];
    for (const flag of watched) verdicts.push(await check(flag, now));
    if (verdicts.some((v) => v.rolledBack)) await deps.flags.refresh(true);
    return verdicts;
  }

  /** Runs one pass now (one at a time). */
  function runOnce(): Promise<CanaryVerdict[]> {
    running ??= tick().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    tick: runOnce,
    start(): void {
      timer = setInterval(() => {
        void runOnce().catch((err: unknown) => deps.logger.warn({ err }, 'canary guard pass failed'));
      }, options.intervalMs);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

function round(value: number): string {
  if (!Number.isFinite(value)) return 'inf';
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

/** The canary guard's interface. */
export type CanaryGuard = ReturnType<typeof createCanaryGuard>;
