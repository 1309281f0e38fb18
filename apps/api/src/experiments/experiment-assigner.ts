import type { AssignedVariant, ExperimentVariant } from '@assistant/contracts';
import type { ExperimentRow, ExperimentsRepo } from '@assistant/db';
import { assignedVariantOf, assignVariant, type Flags } from '@assistant/flags';
import type { Logger } from '@assistant/telemetry';

/** Collaborators of {@link createExperimentAssigner}. */
export type ExperimentAssignerDeps = {
  experiments: Pick<ExperimentsRepo, 'active'>;
  flags: Pick<Flags, 'enabled'>;
  logger: Pick<Logger, 'warn'>;
};

const assigned = (experiment: ExperimentRow, variant: ExperimentVariant): AssignedVariant =>
  assignedVariantOf(experiment.id, variant);

/**
 * Which variant a question is answered under, from an in-process copy of the running and the
 * promoted experiment (re-read from Postgres every `refreshMs`, never on the request path). The
 * running experiment assigns by the user's sticky hash where the `experiments` flag is on for
 * the user; otherwise the promoted winner, if any, is the default for everyone.
 */
export function createExperimentAssigner(deps: ExperimentAssignerDeps, options: { refreshMs: number }) {
  let running: ExperimentRow | undefined;
  let promoted: ExperimentRow | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function refresh(): Promise<void> {
    const rows = await deps.experiments.active();
    running = rows.find((row) => row.status === 'running');
    promoted = rows.find((row) => row.status === 'promoted');
  }

  return {
    refresh,
    assign(userId: string): AssignedVariant | undefined {
      if (running && deps.flags.enabled('experiments', userId)) {
        const variant = assignVariant(running.id, running.variants, userId);
        if (variant) return assigned(running, variant);
      }
      const winner = promoted?.variants.find((v) => v.name === promoted?.winner);
      return promoted && winner ? assigned(promoted, winner) : undefined;
    },
    async start(): Promise<void> {
      await refresh().catch((err: unknown) => deps.logger.warn({ err }, 'experiments unavailable'));
      timer = setInterval(() => {
        refresh().catch((err: unknown) => deps.logger.warn({ err }, 'experiments refresh failed'));
      }, options.refreshMs);
      timer.unref();
    },
    close(): void {
      if (timer) clearInterval(timer);
    },
  };
}

/** The assigner's interface. */
export type ExperimentAssigner = ReturnType<typeof createExperimentAssigner>;
