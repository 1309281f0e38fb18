import { EmbeddingInputError } from './embedding-errors.ts';

/** What consumers depend on: texts in, one unit-length vector per text out, in order. */
export type Embedder = { embed(texts: string[]): Promise<Float32Array[]> };

/** The one capability the batcher needs from a model: one inference for many texts. */
export type BatchEmbeddingModel = { embedBatch(texts: readonly string[]): Promise<Float32Array[]> };

/** Tunables of {@link createBatchingEmbedder}. */
export type BatchingEmbedderOptions = {
  /** Most texts per inference. @defaultValue 32 */
  maxBatchSize?: number;
  /**
   * How long the first text queued at an idle model waits for company before its batch runs.
   * 0: it runs once the current turn of the event loop is over (texts handed over in that turn
   * share it); texts that arrive while an inference runs gather for the next one either way.
   * @defaultValue 0
   */
  maxWaitMs?: number;
};

/** Injected timer, so tests can decide when the wait ends. */
export type BatchingEmbedderDeps = {
  /** Calls `run` after `ms`; returns a function that cancels it. @defaultValue `setTimeout` */
  schedule?: (run: () => void, ms: number) => () => void;
};

type Request = {
  readonly vectors: Float32Array[];
  remaining: number;
  settled: boolean;
  readonly resolve: (vectors: Float32Array[]) => void;
  readonly reject: (error: unknown) => void;
};

type QueuedText = { readonly text: string; readonly request: Request; readonly index: number };

/**
 * Micro-batches concurrent `embed` calls into shared `embedBatch` inferences: a batch runs when
 * it holds `maxBatchSize` texts or `maxWaitMs` after its first text arrived. Inferences run one
 * at a time (ONNX gains nothing from parallel runs on a few cores) while the next batch gathers,
 * so under load the batches grow by themselves and an idle model adds no wait (the default 0).
 * Each caller gets exactly its own vectors in order; a failed inference rejects only the callers
 * with texts in that batch. Blank texts are rejected up front so they cannot sink a shared batch.
 *
 * @example
 * const embedder = createBatchingEmbedder(model, { maxBatchSize: 32 });
 * const [query] = await embedder.embed(['how do refunds work?']);
 */
export function createBatchingEmbedder(
  model: BatchEmbeddingModel,
  options: BatchingEmbedderOptions = {},
  deps: BatchingEmbedderDeps = {},
): Embedder {
  const maxBatchSize = options.maxBatchSize ?? 32;
  const maxWaitMs = options.maxWaitMs ?? 0;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
    throw new RangeError(`maxBatchSize must be a positive integer, got ${maxBatchSize}`);
  }
  const schedule = deps.schedule ?? scheduleWithTimeout;
  const queue: QueuedText[] = [];
  let running = false;
  let cancelWait: (() => void) | undefined;

  function startNextBatch(): void {
    cancelWait?.();
    cancelWait = undefined;
    if (running || queue.length === 0) return;
    running = true;
    const batch = queue.splice(0, maxBatchSize);
    void runBatch(batch).finally(function batchDone() {
      running = false;
      // Texts that queued during the run have waited long enough already.
      startNextBatch();
    });
  }

  async function runBatch(batch: QueuedText[]): Promise<void> {
    let vectors: Float32Array[];
    try {
      vectors = await model.embedBatch(batch.map((item) => item.text));
      if (vectors.length !== batch.length) {
        throw new Error(`embedBatch returned ${vectors.length} vectors for ${batch.length} texts`);
      }
    } catch (error) {
      const requests = new Set(batch.map((item) => item.request));
      if (error instanceof EmbeddingInputError && requests.size > 1) {
        // One caller's unembeddable text (e.g. only zero-width characters) must not fail the
        // others: retry each caller's texts on their own, so the error lands only where it belongs.
        for (const request of requests) await runBatch(batch.filter((item) => item.request === request));
        return;
      }
      failRequests(batch, error);
      return;
    }
    batch.forEach((item, i) => {
      const { request } = item;
      if (request.settled) return;
      request.vectors[item.index] = vectors[i]!;
      request.remaining -= 1;
      if (request.remaining === 0) {
        request.settled = true;
        request.resolve(request.vectors);
      }
    });
  }

  function failRequests(batch: QueuedText[], error: unknown): void {
    const failed = new Set(batch.map((item) => item.request));
    for (const request of failed) {
      if (request.settled) continue;
      request.settled = true;
      request.reject(error);
    }
    // Texts of a failed request still waiting in the queue would be wasted work.
    for (let i = queue.length - 1; i >= 0; i--) {
      if (failed.has(queue[i]!.request)) queue.splice(i, 1);
    }
  }

  return {
    embed: function embed(texts: string[]): Promise<Float32Array[]> {
      if (texts.length === 0) return Promise.resolve([]);
      const blank = texts.findIndex((text) => typeof text !== 'string' || text.trim() === '');
      if (blank >= 0) {
        return Promise.reject(
          new EmbeddingInputError(
            'empty_text',
            `text ${blank} is empty or whitespace; there is nothing to embed`,
          ),
        );
      }
      return new Promise<Float32Array[]>((resolve, reject) => {
        const request: Request = {
          vectors: new Array<Float32Array>(texts.length),
          remaining: texts.length,
          settled: false,
          resolve,
          reject,
        };
        texts.forEach((text, index) => {
          queue.push({ text, request, index });
        });
        if (running) return; // the running batch starts the next one when it ends
        if (queue.length >= maxBatchSize) startNextBatch();
        else cancelWait ??= schedule(startNextBatch, maxWaitMs);
      });
    },
  };
}

function scheduleWithTimeout(run: () => void, ms: number): () => void {
  if (ms <= 0) {
    const immediate = setImmediate(run);
    return () => clearImmediate(immediate);
  }
  const timer = setTimeout(run, ms);
  return () => clearTimeout(timer);
}
