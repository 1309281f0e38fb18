import type { AssignedVariant, ExperimentVariant } from '@assistant/contracts';
import { ROLLOUT_BUCKETS, rolloutBucket } from './rollout-bucket.ts';

/**
 * The variant a user gets in an experiment: sticky (the user's bucket, salted by the experiment
 * id, never changes) and proportional to the weights (each variant owns a share of the buckets
 * in order). `undefined` when no weight is positive.
 */
export function assignVariant<V extends Pick<ExperimentVariant, 'name' | 'weight'>>(
  experimentId: string,
  variants: readonly V[],
  userId: string,
): V | undefined {
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (!(total > 0)) return undefined;
  // The bucket's midpoint as a share in (0, 1), against the cumulative weights.
  const point = ((rolloutBucket(`experiment:${experimentId}`, userId) + 0.5) / ROLLOUT_BUCKETS) * total;
  let cumulative = 0;
  for (const variant of variants) {
    cumulative += variant.weight;
    if (variant.weight > 0 && point < cumulative) return variant;
  }
  return [...variants].reverse().find((v) => v.weight > 0);
}

/** A variant as a job carries it to the worker: the experiment, the variant's name, its prompt and model. */
export function assignedVariantOf(experimentId: string, variant: ExperimentVariant): AssignedVariant {
  return {
    experiment_id: experimentId,
    variant: variant.name,
    ...(variant.prompt ? { prompt: variant.prompt } : {}),
    ...(variant.model ? { model: variant.model } : {}),
  };
}
