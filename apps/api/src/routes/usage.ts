import type { TierLimits } from '@assistant/config';
import { UsageParams } from '@assistant/contracts';
import type { CostsRepo, DailyUsage, KeyOwner } from '@assistant/db';
import type { Admission, Budget } from '@assistant/limits';
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.ts';

/** Deps of {@link createUsageRoutes}. */
export type UsageRoutesDeps = {
  costs: Pick<CostsRepo, 'userUsage' | 'globalUsage' | 'topUsers'>;
  admission: Pick<Admission, 'peek'>;
  budget: Pick<Budget, 'spent'>;
  limitsOf: (owner: KeyOwner) => TierLimits;
  global: { perHour: number; dailyBudgetMicros: number };
  now: () => number;
};

const DAY_MS = 86_400_000;
const usd = (micros: number) => micros / 1e6;

/** Resolves `from`/`to` (inclusive UTC days; default: the last 7 days). */
function dayRange(query: { from?: string; to?: string }, now: number) {
  const params = UsageParams.parse(query);
  const to = params.to ?? new Date(now).toISOString().slice(0, 10);
  const from = params.from ?? new Date(Date.parse(to) - 6 * DAY_MS).toISOString().slice(0, 10);
  return { from, to };
}

function dayView(d: DailyUsage) {
  return {
    day: d.day,
    queries: d.queries,
    cache_hits: d.cacheHits,
    prompt_tokens: d.promptTokens,
    completion_tokens: d.completionTokens,
    cost_usd: usd(d.costMicros),
  };
}

function sum(days: DailyUsage[]) {
  const total = days.reduce(
    (a, d) => ({
      day: '',
      queries: a.queries + d.queries,
      cacheHits: a.cacheHits + d.cacheHits,
      promptTokens: a.promptTokens + d.promptTokens,
      completionTokens: a.completionTokens + d.completionTokens,
      costMicros: a.costMicros + d.costMicros,
    }),
    { day: '', queries: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0, costMicros: 0 },
  );
  const { day: _, ...rest } = dayView(total);
  return rest;
}

/** `GET /v1/usage` (own spend and what is left now) and `GET /v1/admin/usage` (global, top users). */
export function createUsageRoutes(deps: UsageRoutesDeps) {
  const user = new Hono<AppEnv>();
  user.get('/', async function ownUsage(c) {
    const owner = c.get('user');
    const { from, to } = dayRange({ from: c.req.query('from'), to: c.req.query('to') }, deps.now());
    const limits = deps.limitsOf(owner);
    const [days, peek, spent] = await Promise.all([
      deps.costs.userUsage(owner.userId, from, to),
      deps.admission.peek({ userId: owner.userId, queryId: 'usage', limits, global: deps.global }),
      deps.budget.spent(owner.userId),
    ]);
    const { state } = peek;
    const window = (s: { limit: number; remaining: number; resetSeconds?: number }) => ({
      limit: s.limit,
      remaining: s.remaining,
      reset_seconds: s.resetSeconds ?? 0,
    });
    return c.json({
      from,
      to,
      tier: owner.tier,
      days: days.map(dayView),
      totals: sum(days),
      limits: {
        minute: window(state.user_minute),
        hour: window(state.user_hour),
        day: window(state.user_day),
        in_flight: state.in_flight
          ? window(state.in_flight)
          : { limit: limits.maxInFlight, remaining: limits.maxInFlight, reset_seconds: 0 },
      },
      budget: {
        day: spent.day,
        daily_usd: usd(limits.dailyBudgetMicros),
        spent_usd: usd(spent.userMicros),
        reserved_usd: usd(spent.userReservedMicros),
        remaining_usd: usd(
          Math.max(0, limits.dailyBudgetMicros - spent.userMicros - spent.userReservedMicros),
        ),
      },
    });
  });

  const admin = new Hono<AppEnv>();
  admin.get('/', async function globalUsage(c) {
    const { from, to } = dayRange({ from: c.req.query('from'), to: c.req.query('to') }, deps.now());
    const [days, top] = await Promise.all([
      deps.costs.globalUsage(from, to),
      deps.costs.topUsers(from, to, 20),
    ]);
    return c.json({
      from,
      to,
      days: days.map(dayView),
      totals: sum(days),
      daily_budget_usd: usd(deps.global.dailyBudgetMicros),
      top_users: top.map((u) => ({
        user_id: u.userId,
        queries: u.queries,
        cache_hits: u.cacheHits,
        cost_usd: usd(u.costMicros),
      })),
    });
  });
  return { user, admin };
}
