import { readFileSync } from 'node:fs';
import type { RoutingCentroids } from './classify.ts';

/**
 * The centroids as stored in `routing-centroids.json`: trained by `EVAL_WRITE_CENTROIDS=1 npm run
 * eval:routing` on the dev part of the routing eval set, for one embedding model.
 */
export type StoredCentroids = {
  model_id: string;
  trained_on: string;
  margin: number;
  simple: number[];
  complex: number[];
};

/** Where the trained centroids live (a folder of their own: the build copies it as an asset). */
export const CENTROIDS_FILE = new URL('./centroids/routing-centroids.json', import.meta.url);

/**
 * The centroids for the embedding model in use, or `undefined` (the rule off) when none were
 * trained for it: centroids of another model's vectors would compare unrelated spaces.
 */
export function loadRoutingCentroids(
  model: { modelId: string; dimension: number },
  file: URL = CENTROIDS_FILE,
): RoutingCentroids | undefined {
  let stored: StoredCentroids;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as StoredCentroids;
  } catch {
    return undefined;
  }
  if (stored.model_id !== model.modelId) return undefined;
  if (stored.simple.length !== model.dimension || stored.complex.length !== model.dimension) return undefined;
  return {
    simple: Float32Array.from(stored.simple),
    complex: Float32Array.from(stored.complex),
    margin: stored.margin,
  };
}

/** The unit-length mean of some vectors (a class's centroid). */
export function centroidOf(vectors: readonly Float32Array[], dimension: number): Float32Array {
  const sum = new Float64Array(dimension);
  for (const v of vectors) for (let i = 0; i < dimension; i++) sum[i]! += v[i]!;
  const norm = Math.hypot(...sum) || 1;
  return Float32Array.from(sum, (x) => x / norm);
}
