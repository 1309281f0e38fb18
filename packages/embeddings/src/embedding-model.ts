import { availableParallelism } from 'node:os';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { EmbeddingInputError, EmbeddingModelError } from './embedding-errors.ts';
import type { ModelFilesOptions } from './model-files.ts';
import { readModelFiles } from './model-files.ts';
import type { Pooling } from './pooling.ts';
import { poolHiddenState } from './pooling.ts';
import type { TextTokenizer, TokenizedText } from './text-tokenizer.ts';
import { createTextTokenizer } from './text-tokenizer.ts';
import { l2Normalize } from './vector.ts';

/** Tunables of {@link loadEmbeddingModel}. */
export type EmbeddingModelOptions = ModelFilesOptions & {
  /** Threads one inference may use. @defaultValue the CPUs this process may run on */
  intraOpNumThreads?: number;
};

// Outputs in order of preference: token vectors we pool ourselves, then an already pooled one.
const OUTPUT_NAMES = ['last_hidden_state', 'token_embeddings', 'sentence_embedding'];
const SUPPORTED_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids']);

/**
 * Loads a sentence-embedding model folder (onnx-community / Xenova layout) and creates its ONNX
 * session once. Build it in the composition root and `close()` it on shutdown.
 *
 * @example
 * const model = await loadEmbeddingModel(defaultModelDir(process.env), { intraOpNumThreads: 2 });
 * const [vector] = await model.embedBatch(['How do I reset my password?']);
 */
export async function loadEmbeddingModel(
  dir: string,
  options: EmbeddingModelOptions = {},
): Promise<EmbeddingModel> {
  const files = await readModelFiles(dir, options);
  const tokenizer = createTextTokenizer(files.tokenizerJson, files.tokenizerConfig, {
    maxTokens: files.maxTokens,
    ...(files.padTokenId === undefined ? {} : { padTokenId: files.padTokenId }),
  });
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(files.onnxPath, {
      intraOpNumThreads: options.intraOpNumThreads ?? availableParallelism(),
      // One graph node at a time; parallelism lives inside operators (intraOp).
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    throw new EmbeddingModelError('model_invalid', `cannot load ${files.onnxPath}`, { cause: error });
  }
  try {
    return new EmbeddingModel(session, tokenizer, {
      modelId: files.modelId,
      onnxPath: files.onnxPath,
      dimension: files.dimension,
      pooling: files.pooling,
    });
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** Identity of a loaded model, passed from {@link loadEmbeddingModel} to the constructor. */
export type EmbeddingModelInfo = { modelId: string; onnxPath: string; dimension: number; pooling: Pooling };

/**
 * A loaded embedding model: one ONNX session plus its tokenizer. Vectors are unit length, so a
 * dot product is their cosine similarity. Concurrent `embedBatch` calls are safe but compete for
 * the same cores; put {@link createBatchingEmbedder} in front to merge and serialize them.
 */
export class EmbeddingModel {
  /** Hub id (`org/name`) from config.json, else the folder name. */
  readonly modelId: string;
  /** The ONNX graph in use. */
  readonly onnxPath: string;
  /** Length of every vector. */
  readonly dimension: number;
  /** Longest sequence fed to the model, special tokens included; longer texts are truncated. */
  readonly maxTokens: number;
  /** Word pieces of text that fit one inference (`maxTokens` minus the special tokens). */
  readonly maxTextTokens: number;
  /** How token vectors become the text vector (from `1_Pooling/config.json`, else mean). */
  readonly pooling: Pooling;
  readonly #session: InferenceSession;
  readonly #tokenizer: TextTokenizer;
  readonly #outputName: string;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  /** Use {@link loadEmbeddingModel}; this checks that the session takes the inputs we can feed. */
  constructor(session: InferenceSession, tokenizer: TextTokenizer, info: EmbeddingModelInfo) {
    const unsupported = session.inputNames.filter((name) => !SUPPORTED_INPUTS.has(name));
    if (unsupported.length > 0 || !session.inputNames.includes('input_ids')) {
      throw new EmbeddingModelError(
        'model_invalid',
        `${info.onnxPath} takes inputs [${session.inputNames.join(', ')}]; supported: input_ids, ` +
          'attention_mask, token_type_ids',
      );
    }
    const outputName =
      OUTPUT_NAMES.find((name) => session.outputNames.includes(name)) ?? session.outputNames[0];
    if (outputName === undefined)
      throw new EmbeddingModelError('model_invalid', `${info.onnxPath} has no output`);
    this.#session = session;
    this.#tokenizer = tokenizer;
    this.#outputName = outputName;
    this.modelId = info.modelId;
    this.onnxPath = info.onnxPath;
    this.dimension = info.dimension;
    this.pooling = info.pooling;
    this.maxTokens = tokenizer.maxTokens;
    this.maxTextTokens = tokenizer.maxTextTokens;
  }

  /**
   * Embeds all `texts` in one inference (padded to the longest), each truncated to the window.
   * Throws {@link EmbeddingInputError} (`empty_text`) when any text is empty or blank.
   */
  async embedBatch(texts: readonly string[]): Promise<Float32Array[]> {
    this.#assertOpen();
    if (texts.length === 0) return [];
    const sequences = texts.map((text, index) => this.#encodeChecked(text, index));
    const batch = sequences.length;
    const sequence = Math.max(...sequences.map((ids) => ids.length));
    const inputIds = new BigInt64Array(batch * sequence).fill(BigInt(this.#tokenizer.padTokenId));
    const attentionMask = new BigInt64Array(batch * sequence);
    sequences.forEach((ids, row) => {
      ids.forEach((id, position) => {
        inputIds[row * sequence + position] = BigInt(id);
        attentionMask[row * sequence + position] = 1n;
      });
    });
    const inputs: Record<string, Tensor> = {
      input_ids: new Tensor('int64', inputIds, [batch, sequence]),
      attention_mask: new Tensor('int64', attentionMask, [batch, sequence]),
      token_type_ids: new Tensor('int64', new BigInt64Array(batch * sequence), [batch, sequence]),
    };
    // Feed only what the graph declares: some exports drop token_type_ids.
    const feeds = Object.fromEntries(this.#session.inputNames.map((name) => [name, inputs[name]!]));
    const run = this.#session.run(feeds, [this.#outputName]);
    this.#inFlight.add(run);
    let output: Tensor;
    try {
      output = (await run)[this.#outputName]!;
    } finally {
      this.#inFlight.delete(run);
    }
    return this.#toVectors(output, attentionMask, batch, sequence);
  }

  /** The exact ids {@link embedBatch} feeds for `text`: special tokens added, truncated to `maxTokens`. */
  encode(text: string): number[] {
    return this.#tokenizer.encode(text);
  }

  /** Word pieces of `text`, without special tokens and without truncation. */
  countTokens(text: string): number {
    return this.#tokenizer.countTokens(text);
  }

  /** Ids and word-piece strings of `text` without special tokens (no character offsets exist). */
  tokenize(text: string): TokenizedText {
    return this.#tokenizer.tokenize(text);
  }

  /** The longest prefix of `text` with at most `maxTokens` word pieces, cut after a word if possible. */
  truncateToTokens(text: string, maxTokens: number): string {
    return this.#tokenizer.truncateToTokens(text, maxTokens);
  }

  /** Runs one short inference so the first real request does not pay for lazy set-up; returns its ms. */
  async warmUp(): Promise<number> {
    const started = performance.now();
    await this.embedBatch(['warm-up sentence for the embedding model']);
    return performance.now() - started;
  }

  /** Waits for running inferences, then frees the session; later calls throw `model_closed`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#inFlight);
    await this.#session.release();
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new EmbeddingModelError('model_closed', `embedding model ${this.modelId} is closed`);
  }

  #encodeChecked(text: string, index: number): number[] {
    if (typeof text !== 'string' || text.trim() === '') {
      throw new EmbeddingInputError(
        'empty_text',
        `text ${index} is empty or whitespace; there is nothing to embed`,
      );
    }
    const ids = this.#tokenizer.encode(text);
    if (ids.length <= this.maxTokens - this.maxTextTokens) {
      throw new EmbeddingInputError('empty_text', `text ${index} has no tokens (only invisible characters)`);
    }
    return ids;
  }

  #toVectors(output: Tensor, attentionMask: BigInt64Array, batch: number, sequence: number): Float32Array[] {
    if (output.type !== 'float32') {
      throw new EmbeddingModelError(
        'model_invalid',
        `output ${this.#outputName} is ${output.type}, not float32`,
      );
    }
    const data = output.data as Float32Array;
    const dimension = output.dims.at(-1);
    if (dimension !== this.dimension) {
      throw new EmbeddingModelError(
        'model_invalid',
        `output ${this.#outputName} has width ${dimension}, config.json says ${this.dimension}`,
      );
    }
    if (output.dims.length === 2) {
      // Already pooled by the graph (sentence_embedding): only normalise.
      return Array.from({ length: batch }, (_, row) =>
        l2Normalize(data.slice(row * dimension, (row + 1) * dimension)),
      );
    }
    return poolHiddenState(data, attentionMask, { batch, sequence, dimension }, this.pooling);
  }
}
