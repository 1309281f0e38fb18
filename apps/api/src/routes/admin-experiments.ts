import { CreateExperiment, PromoteExperiment } from '@assistant/contracts';
import type { ExperimentRow, ExperimentsRepo, TransitionResult, VariantFigures } from '@assistant/db';
import { microsToUsd } from '@assistant/db';
import { compareProportions } from '@assistant/flags';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env.ts';
import { AppError, notFound } from '../app-error.ts';
import { readJson } from '../json-body.ts';

/** Deps of {@link createAdminExperimentRoutes}. */
export type AdminExperimentRoutesDeps = {
  experiments: Pick<ExperimentsRepo, 'create' | 'find' | 'list' | 'start' | 'stop' | 'promote' | 'figures'>;
  /** Whether a prompt version exists (the prompt templates own the list). */
  knownPrompt: (ref: string) => boolean;
  /** Re-reads the active experiments now, so this process assigns by the change at once. */
  refreshAssignments: () => Promise<void>;
  newId: () => string;
};

const ExperimentId = z.string().regex(/^exp_[0-9a-f]{32}$/, 'must be an experiment id');

function viewOf(row: ExperimentRow) {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    variants: row.variants,
    control: row.variants[0]?.name ?? null,
    winner: row.winner,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    stopped_at: row.stoppedAt?.toISOString() ?? null,
  };
}

function outcomeOf(result: TransitionResult, action: string): ExperimentRow {
  if (result.ok) return result.row;
  if (result.reason === 'not_found') throw notFound('experiment');
  if (result.reason === 'conflict') {
    throw new AppError(
      'experiment_conflict',
      `another experiment is already ${action === 'promote' ? 'promoted' : 'running'}; stop it first`,
      {
        status: 409,
      },
    );
  }
  throw new AppError('experiment_state', `the experiment cannot ${action} from its current state`, {
    status: 409,
  });
}

/** One variant's row of the results. */
function variantResult(name: string, figures: VariantFigures | undefined) {
  const f = figures ?? {
    variant: name,
    queries: 0,
    succeeded: 0,
    meanQuality: null,
    scored: 0,
    rated: 0,
    thumbsUp: 0,
    costMicros: 0,
    costed: 0,
    p95LatencyMs: null,
  };
  return {
    variant: name,
    queries: f.queries,
    succeeded: f.succeeded,
    mean_quality_score: f.meanQuality,
    scored: f.scored,
    rated: f.rated,
    thumbs_up: f.thumbsUp,
    thumbs_up_rate: f.rated > 0 ? f.thumbsUp / f.rated : null,
    cost_per_query_usd: f.costed > 0 ? microsToUsd(f.costMicros) / f.costed : null,
    p95_latency_ms: f.p95LatencyMs,
  };
}

/**
 * `/v1/admin/experiments`: create (variants with weights, each a prompt version and/or a model;
 * the first is the control), list, read, start, stop, promote a winner (its prompt and model
 * become the default for everyone), and the results of one.
 */
export function createAdminExperimentRoutes(deps: AdminExperimentRoutesDeps) {
  const app = new Hono<AppEnv>();

  async function found(raw: string): Promise<ExperimentRow> {
    const id = ExperimentId.safeParse(raw);
    const row = id.success ? await deps.experiments.find(id.data) : undefined;
    if (!row) throw notFound('experiment');
    return row;
  }

  app.post('/', async function createExperiment(c) {
    const body = await readJson(c, CreateExperiment);
    const total = body.variants.reduce((sum, v) => sum + v.weight, 0);
    if (!(total > 0)) {
      throw new AppError('invalid_weights', 'variant weights must sum to a positive number', { status: 400 });
    }
    const names = new Set(body.variants.map((v) => v.name));
    if (names.size !== body.variants.length) {
      throw new AppError('invalid_request', 'variant names must be unique', { status: 400 });
    }
    for (const variant of body.variants) {
      if (variant.prompt && !deps.knownPrompt(variant.prompt)) {
        throw new AppError('unknown_prompt', `unknown prompt version ${variant.prompt}`, { status: 400 });
      }
    }
    const id = `exp_${deps.newId().replaceAll('-', '')}`;
    const row = await deps.experiments.create({ id, name: body.name, variants: body.variants });
    return c.json(viewOf(row), 201);
  });

  app.get('/', async function listExperiments(c) {
    const rows = await deps.experiments.list(200);
    return c.json({ data: rows.map(viewOf) });
  });

  app.get('/:id', async function getExperiment(c) {
    return c.json(viewOf(await found(c.req.param('id'))));
  });

  app.post('/:id/start', async function startExperiment(c) {
    const row = await found(c.req.param('id'));
    const started = outcomeOf(await deps.experiments.start(row.id), 'start');
    await deps.refreshAssignments();
    return c.json(viewOf(started));
  });

  app.post('/:id/stop', async function stopExperiment(c) {
    const row = await found(c.req.param('id'));
    const stopped = outcomeOf(await deps.experiments.stop(row.id), 'stop');
    await deps.refreshAssignments();
    return c.json(viewOf(stopped));
  });

  app.post('/:id/promote', async function promoteExperiment(c) {
    const row = await found(c.req.param('id'));
    const body = await readJson(c, PromoteExperiment);
    if (!row.variants.some((v) => v.name === body.variant)) {
      throw new AppError('unknown_variant', `the experiment has no variant ${body.variant}`, { status: 400 });
    }
    const promoted = outcomeOf(await deps.experiments.promote(row.id, body.variant), 'promote');
    await deps.refreshAssignments();
    return c.json(viewOf(promoted));
  });

  app.get('/:id/results', async function experimentResults(c) {
    const row = await found(c.req.param('id'));
    const figures = new Map((await deps.experiments.figures(row.id)).map((f) => [f.variant, f]));
    const variants = row.variants.map((v) => variantResult(v.name, figures.get(v.name)));
    const control = variants[0]!;
    const comparisons = variants.slice(1).map((variant) => {
      const compared = compareProportions(
        { successes: control.thumbs_up, trials: control.rated },
        { successes: variant.thumbs_up, trials: variant.rated },
      );
      return {
        variant: variant.variant,
        control: control.variant,
        metric: 'thumbs_up_rate',
        difference: compared.difference,
        ci95: compared.ci95,
        z: compared.z,
        p_value: compared.pValue,
        significant: compared.significant,
        // Rated answers per variant still needed to tell this difference (5% level, 80% power).
        sample_size_needed: compared.sampleSizeNeeded,
      };
    });
    return c.json({ experiment: viewOf(row), variants, comparisons });
  });

  return app;
}
