import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CENTROIDS_FILE,
  centroidOf,
  loadRoutingCentroids,
  type StoredCentroids,
} from './routing-centroids.ts';

function fileOf(stored: StoredCentroids): URL {
  const path = join(mkdtempSync(join(tmpdir(), 'centroids-')), 'c.json');
  writeFileSync(path, JSON.stringify(stored));
  return pathToFileURL(path);
}

const stored: StoredCentroids = {
  model_id: 'm1',
  trained_on: 'test',
  margin: 0.02,
  simple: [1, 0, 0],
  complex: [0, 1, 0],
};

describe('loadRoutingCentroids', () => {
  it('loads the centroids trained for the embedding model in use', () => {
    const loaded = loadRoutingCentroids({ modelId: 'm1', dimension: 3 }, fileOf(stored));
    expect(loaded).toEqual({
      simple: Float32Array.from([1, 0, 0]),
      complex: Float32Array.from([0, 1, 0]),
      margin: 0.02,
    });
  });

  it("turns the rule off for another model's centroids, another dimension, or no file", () => {
    expect(loadRoutingCentroids({ modelId: 'm2', dimension: 3 }, fileOf(stored))).toBeUndefined();
    expect(loadRoutingCentroids({ modelId: 'm1', dimension: 4 }, fileOf(stored))).toBeUndefined();
    expect(
      loadRoutingCentroids({ modelId: 'm1', dimension: 3 }, new URL('file:///nonexistent/c.json')),
    ).toBeUndefined();
  });

  it('ships centroids for the bundled embedding model', () => {
    expect(
      loadRoutingCentroids({ modelId: 'all-MiniLM-L6-v2-ONNX', dimension: 384 }, CENTROIDS_FILE),
    ).toBeDefined();
  });
});

describe('centroidOf', () => {
  it('is the unit-length mean of the vectors', () => {
    const c = centroidOf([Float32Array.from([1, 0]), Float32Array.from([0, 1])], 2);
    expect(c[0]).toBeCloseTo(Math.SQRT1_2);
    expect(c[1]).toBeCloseTo(Math.SQRT1_2);
  });
});
