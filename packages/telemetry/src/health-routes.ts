import { Hono } from 'hono';
import type { Registry } from 'prom-client';

/** A named readiness check: resolves when the dependency answers. */
export type ReadinessCheck = () => Promise<unknown>;

/** Deps of {@link createHealthRoutes}. */
export type HealthRoutesDeps = {
  checks: Record<string, ReadinessCheck>;
  registry: Registry;
  /** @defaultValue 2000 */
  checkTimeoutMs?: number;
  /** Refreshes gauges that are read on demand (queue depth) before each scrape. */
  beforeScrape?: () => Promise<unknown>;
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Runs every check in parallel; ready only if all pass. The body names each dependency and, for a
 * failing one, why. Shared by the API and the worker.
 */
export async function runChecks(checks: Record<string, ReadinessCheck>, timeoutMs: number) {
  const names = Object.keys(checks);
  const results = await Promise.allSettled(names.map((name) => withTimeout(checks[name]!(), timeoutMs)));
  const report: Record<string, unknown> = {};
  const failing: string[] = [];
  results.forEach((result, i) => {
    const name = names[i]!;
    if (result.status === 'fulfilled') {
      report[name] = result.value ?? 'ok';
    } else {
      failing.push(name);
      report[name] = {
        error: result.reason instanceof Error ? result.reason.message : String(result.reason),
      };
    }
  });
  return { ready: failing.length === 0, failing, checks: report };
}

/** `/healthz` (process up), `/readyz` (dependencies), `/metrics` (Prometheus); for the API and workers. */
export function createHealthRoutes(deps: HealthRoutesDeps) {
  const app = new Hono<{ Variables: { requestId?: string } }>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async function readiness(c) {
    const result = await runChecks(deps.checks, deps.checkTimeoutMs ?? 2_000);
    if (result.ready) return c.json({ status: 'ready', checks: result.checks });
    return c.json(
      {
        status: 'unavailable',
        checks: result.checks,
        error: {
          code: 'dependency_unavailable',
          message: `unavailable: ${result.failing.join(', ')}`,
          request_id: c.get('requestId') ?? c.req.header('x-request-id') ?? 'unknown',
        },
      },
      503,
    );
  });
  app.get('/metrics', async function metrics(c) {
    await deps.beforeScrape?.();
    c.header('Content-Type', deps.registry.contentType);
    return c.body(await deps.registry.metrics());
  });
  return app;
}
