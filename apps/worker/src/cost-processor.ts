import { CostJob } from '@assistant/contracts';
import type { CostsRepo } from '@assistant/db';
import { type Job, UnrecoverableError } from 'bullmq';

/**
 * The `settle-costs` processor: one ledger row per query, idempotent (unique by query id, the
 * aggregates move only with a new row). A Postgres outage fails the job, and BullMQ retries it
 * with backoff until Postgres is back: the record is delayed, never lost.
 */
export function createCostProcessor(deps: { costs: Pick<CostsRepo, 'record'> }) {
  return async function processCostJob(job: Job): Promise<{ recorded: boolean }> {
    const parsed = CostJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid cost job payload: ${parsed.error.message}`);
    const c = parsed.data;
    const recorded = await deps.costs.record({
      queryId: c.query_id,
      userId: c.user_id,
      day: c.day,
      provider: c.provider,
      model: c.model,
      promptTokens: c.prompt_tokens,
      completionTokens: c.completion_tokens,
      inputNanosPerToken: c.input_nanos_per_token,
      outputNanosPerToken: c.output_nanos_per_token,
      costMicros: c.cost_micros,
      cached: c.cached,
    });
    return { recorded };
  };
}
