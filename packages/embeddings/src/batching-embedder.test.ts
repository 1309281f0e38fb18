import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchEmbeddingModel } from './batching-embedder.ts';
import { createBatchingEmbedder } from './batching-embedder.ts';
import { EmbeddingInputError } from './embedding-errors.ts';
import type { EmbeddingModel } from './embedding-model.ts';
import { loadEmbeddingModel } from './embedding-model.ts';
import { defaultModelDir } from './model-dir.ts';

/** A timer the test fires by hand. */
function createManualTimer() {
  const waits: { run: () => void; ms: number; cancelled: boolean }[] = [];
  return {
    waits,
    schedule(run: () => void, ms: number) {
      const wait = { run, ms, cancelled: false };
      waits.push(wait);
      return () => {
        wait.cancelled = true;
      };
    },
    fire() {
      for (const wait of waits.splice(0)) if (!wait.cancelled) wait.run();
    },
    get active() {
      return waits.filter((wait) => !wait.cancelled).length;
    },
  };
}

/** Fake model: each inference waits for the test to release it; vectors encode the text. */
function createFakeModel() {
  const batches: string[][] = [];
  const releases: ((outcome?: Error) => void)[] = [];
  const model: BatchEmbeddingModel = {
    embedBatch(texts) {
      batches.push([...texts]);
      return new Promise((resolve, reject) => {
        releases.push((outcome) => {
          if (outcome) reject(outcome);
          else resolve(texts.map((text) => Float32Array.of(Number(text.slice(1)))));
        });
      });
    },
  };
  return { model, batches, release: (outcome?: Error) => releases.shift()!(outcome) };
}

const values = (vectors: Float32Array[]) => vectors.map((v) => v[0]);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createBatchingEmbedder', () => {
  it('gathers concurrent calls into one inference after the wait and hands each caller its own vectors', async () => {
    const timer = createManualTimer();
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model, { maxWaitMs: 5 }, timer);
    const a = embedder.embed(['t1', 't2']);
    const b = embedder.embed(['t3']);
    const c = embedder.embed(['t4', 't5', 't6']);
    expect(fake.batches).toHaveLength(0);
    expect(timer.waits.map((w) => w.ms)).toEqual([5]);
    timer.fire();
    expect(fake.batches).toEqual([['t1', 't2', 't3', 't4', 't5', 't6']]);
    fake.release();
    expect(values(await a)).toEqual([1, 2]);
    expect(values(await b)).toEqual([3]);
    expect(values(await c)).toEqual([4, 5, 6]);
  });

  it('by default starts an idle model once the turn is over: texts of that turn share the inference', async () => {
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model);
    const a = embedder.embed(['t1']);
    const b = embedder.embed(['t2', 't3']);
    expect(fake.batches).toHaveLength(0);
    await tick();
    expect(fake.batches).toEqual([['t1', 't2', 't3']]);
    // Arrivals during the inference gather for the next one, which starts as soon as it ends.
    const c = embedder.embed(['t4']);
    await tick();
    expect(fake.batches).toHaveLength(1);
    fake.release();
    expect(values(await a)).toEqual([1]);
    expect(values(await b)).toEqual([2, 3]);
    await tick();
    expect(fake.batches).toEqual([['t1', 't2', 't3'], ['t4']]);
    fake.release();
    expect(values(await c)).toEqual([4]);
  });

  it('runs a full batch at once without waiting for the timer', async () => {
    const timer = createManualTimer();
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model, { maxBatchSize: 3 }, timer);
    const a = embedder.embed(['t1', 't2']);
    const b = embedder.embed(['t3']);
    expect(fake.batches).toEqual([['t1', 't2', 't3']]);
    expect(timer.active).toBe(0);
    fake.release();
    expect(values(await a)).toEqual([1, 2]);
    expect(values(await b)).toEqual([3]);
  });

  it('runs one inference at a time and starts the gathered batch as soon as the previous ends', async () => {
    const timer = createManualTimer();
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model, { maxBatchSize: 2 }, timer);
    const first = embedder.embed(['t1', 't2']);
    const second = embedder.embed(['t3']);
    const third = embedder.embed(['t4', 't5']);
    timer.fire();
    expect(fake.batches).toEqual([['t1', 't2']]); // the rest waits, whatever the timer says
    fake.release();
    await first;
    await tick();
    expect(fake.batches).toEqual([
      ['t1', 't2'],
      ['t3', 't4'],
    ]);
    fake.release();
    await second;
    await tick();
    expect(fake.batches.at(-1)).toEqual(['t5']);
    fake.release();
    expect(values(await third)).toEqual([4, 5]);
  });

  it('splits a call larger than maxBatchSize across inferences and keeps its order', async () => {
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model, { maxBatchSize: 4 }, createManualTimer());
    const texts = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const result = embedder.embed(texts);
    for (let i = 0; i < 3; i++) {
      await tick();
      fake.release();
    }
    expect(values(await result)).toEqual(texts.map((_, i) => i));
    expect(fake.batches.map((batch) => batch.length)).toEqual([4, 4, 2]);
  });

  it('rejects only the callers whose texts were in the failed inference', async () => {
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model, { maxBatchSize: 2 }, createManualTimer());
    const doomed = embedder.embed(['t1']);
    const alsoDoomed = embedder.embed(['t2', 't3']); // t3 rides in the next batch, which is dropped
    const spared = embedder.embed(['t4']);
    fake.release(new Error('onnx exploded'));
    await expect(doomed).rejects.toThrow('onnx exploded');
    await expect(alsoDoomed).rejects.toThrow('onnx exploded');
    await tick();
    expect(fake.batches.at(-1)).toEqual(['t4']);
    fake.release();
    expect(values(await spared)).toEqual([4]);
  });

  it('rejects blank texts up front without touching other callers', async () => {
    const timer = createManualTimer();
    const fake = createFakeModel();
    const embedder = createBatchingEmbedder(fake.model, {}, timer);
    const good = embedder.embed(['t1']);
    await expect(embedder.embed(['t2', '  '])).rejects.toMatchObject({
      name: 'EmbeddingInputError',
      code: 'empty_text',
    });
    expect(await embedder.embed([])).toEqual([]);
    timer.fire();
    fake.release();
    expect(values(await good)).toEqual([1]);
    expect(fake.batches).toEqual([['t1']]);
  });

  it('retries callers one by one when the model refuses one of their texts', async () => {
    const batches: string[][] = [];
    const model: BatchEmbeddingModel = {
      async embedBatch(texts) {
        batches.push([...texts]);
        if (texts.includes('\u200b')) throw new EmbeddingInputError('empty_text', 'no tokens');
        return texts.map((text) => Float32Array.of(text.length));
      },
    };
    const timer = createManualTimer();
    const embedder = createBatchingEmbedder(model, {}, timer);
    const good = embedder.embed(['ab']);
    const bad = embedder.embed(['\u200b']);
    timer.fire();
    await expect(bad).rejects.toBeInstanceOf(EmbeddingInputError);
    expect(values(await good)).toEqual([2]);
    expect(batches).toEqual([['ab', '\u200b'], ['ab'], ['\u200b']]);
  });

  it('rejects a maxBatchSize below 1', () => {
    expect(() => createBatchingEmbedder(createFakeModel().model, { maxBatchSize: 0 })).toThrow(RangeError);
  });

  describe('with the real model', () => {
    let model: EmbeddingModel;
    beforeAll(async () => {
      model = await loadEmbeddingModel(defaultModelDir(process.env));
    });
    afterAll(async () => {
      await model.close();
    });

    it('serves 100 concurrent calls with a handful of inferences and the one-by-one vectors', async () => {
      const texts = Array.from(
        { length: 100 },
        (_, i) => `Question number ${i}: how do I rotate API key ${i * 7}?`,
      );
      let inferences = 0;
      const counting: BatchEmbeddingModel = {
        embedBatch(batch) {
          inferences += 1;
          return model.embedBatch(batch);
        },
      };
      const embedder = createBatchingEmbedder(counting);
      const together = await Promise.all(texts.map((text) => embedder.embed([text])));
      expect(inferences).toBe(4); // 100 texts in batches of at most 32

      for (const [i, text] of texts.entries()) {
        const [alone] = await model.embedBatch([text]);
        const [batched] = together[i]!;
        expect(batched).toHaveLength(384);
        let maxDiff = 0;
        for (let d = 0; d < 384; d++) maxDiff = Math.max(maxDiff, Math.abs(alone![d]! - batched![d]!));
        expect(maxDiff).toBeLessThan(1e-4);
      }
    });
  });
});
