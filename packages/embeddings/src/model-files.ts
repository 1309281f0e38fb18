import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { EmbeddingModelError } from './embedding-errors.ts';
import type { Pooling } from './pooling.ts';

/** Window used when a model folder has no `sentence_bert_config.json` (all-MiniLM-L6-v2's own). */
export const DEFAULT_MAX_TOKENS = 256;

// First match wins; after these, the first other onnx/*.onnx in name order. fp16 graphs come
// last because their float16 outputs need a conversion nobody has asked for yet.
const PREFERRED_ONNX_FILES = [
  'onnx/model_q4.onnx',
  'onnx/model.onnx',
  'onnx/model_quantized.onnx',
  'onnx/model_int8.onnx',
  'onnx/model_uint8.onnx',
  'model.onnx',
];

/** Choices a caller can make about a model folder. */
export type ModelFilesOptions = {
  /** ONNX graph to load, relative to the folder or absolute. @defaultValue `onnx/model_q4.onnx`, else `onnx/model.onnx`, else the first `onnx/*.onnx` */
  file?: string;
  /** Sequence window including special tokens. @defaultValue `max_seq_length` of `sentence_bert_config.json`, else 256, capped by the model's limits */
  maxTokens?: number;
  /** Pooling of token vectors. @defaultValue from `1_Pooling/config.json`, else `'mean'` */
  pooling?: Pooling;
};

/** Everything needed to build a model from a Hugging Face style folder. */
export type ModelFiles = {
  dir: string;
  modelId: string;
  onnxPath: string;
  tokenizerJson: object;
  tokenizerConfig: object;
  /** Width of the hidden state, and so of every embedding. */
  dimension: number;
  maxTokens: number;
  pooling: Pooling;
  padTokenId: number | undefined;
};

type Json = Record<string, unknown>;

/**
 * Reads and cross-checks the files of an onnx-community / Xenova style model folder
 * (`config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/*.onnx`).
 */
export async function readModelFiles(dir: string, options: ModelFilesOptions = {}): Promise<ModelFiles> {
  const root = resolve(dir);
  if (!(await isDirectory(root))) {
    throw new EmbeddingModelError(
      'model_not_found',
      `no embedding model at ${root}: run \`node scripts/setup-model.mjs\` or set EMBEDDING_MODEL_DIR`,
    );
  }
  const config = await readJson(root, 'config.json');
  const tokenizerJson = await readJson(root, 'tokenizer.json');
  const tokenizerConfig = await readJson(root, 'tokenizer_config.json');
  const sentenceBertConfig = await readJson(root, 'sentence_bert_config.json', { optional: true });
  const poolingConfig = await readJson(root, '1_Pooling/config.json', { optional: true });

  const dimension = firstNumber(config, ['hidden_size', 'dim', 'd_model']);
  if (dimension === undefined) {
    throw new EmbeddingModelError('model_invalid', `config.json in ${root} names no hidden_size`);
  }
  return {
    dir: root,
    modelId: modelIdOf(root, config),
    onnxPath: await pickOnnxFile(root, options.file),
    tokenizerJson,
    tokenizerConfig,
    dimension,
    maxTokens: windowOf(config, tokenizerConfig, sentenceBertConfig, options.maxTokens),
    pooling: options.pooling ?? poolingOf(poolingConfig),
    padTokenId: Number.isInteger(config.pad_token_id) ? (config.pad_token_id as number) : undefined,
  };
}

function windowOf(
  config: Json,
  tokenizerConfig: Json,
  sentenceBert: Json | undefined,
  requested?: number,
): number {
  const positions = firstNumber(config, ['max_position_embeddings']) ?? Number.POSITIVE_INFINITY;
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 3 || requested > positions) {
      throw new RangeError(`maxTokens must be an integer from 3 to ${positions}, got ${requested}`);
    }
    return requested;
  }
  // tokenizer_config often says 512 for models trained on 256 (all-MiniLM): sentence-transformers'
  // own max_seq_length is the truth, and 256 the safe guess without it.
  const trained = firstNumber(sentenceBert ?? {}, ['max_seq_length']) ?? DEFAULT_MAX_TOKENS;
  const tokenizerLimit = firstNumber(tokenizerConfig, ['model_max_length']) ?? Number.POSITIVE_INFINITY;
  return Math.min(trained, tokenizerLimit, positions);
}

function poolingOf(poolingConfig: Json | undefined): Pooling {
  if (poolingConfig === undefined || poolingConfig.pooling_mode_mean_tokens === true) return 'mean';
  if (poolingConfig.pooling_mode_cls_token === true) return 'cls';
  throw new EmbeddingModelError(
    'model_invalid',
    `1_Pooling/config.json asks for a pooling other than mean or cls: ${JSON.stringify(poolingConfig)}`,
  );
}

function modelIdOf(root: string, config: Json): string {
  const named = config._name_or_path;
  // A hub id ("org/name") is meaningful elsewhere; a local path from the export machine is not.
  return typeof named === 'string' && /^[\w.-]+\/[\w.-]+$/.test(named) ? named : basename(root);
}

async function pickOnnxFile(root: string, file: string | undefined): Promise<string> {
  if (file !== undefined) {
    const path = isAbsolute(file) ? file : join(root, file);
    if (await isFile(path)) return path;
    throw new EmbeddingModelError('model_not_found', `ONNX file ${path} does not exist`);
  }
  for (const candidate of PREFERRED_ONNX_FILES) {
    if (await isFile(join(root, candidate))) return join(root, candidate);
  }
  const names = (await readdir(join(root, 'onnx')).catch(() => [] as string[]))
    .filter((name) => name.endsWith('.onnx'))
    .sort((a, b) => Number(a.includes('fp16')) - Number(b.includes('fp16')) || a.localeCompare(b));
  if (names[0] === undefined) {
    throw new EmbeddingModelError('model_invalid', `no onnx/*.onnx file in ${root}`);
  }
  return join(root, 'onnx', names[0]);
}

async function readJson(root: string, name: string, options: { optional: true }): Promise<Json | undefined>;
async function readJson(root: string, name: string): Promise<Json>;
async function readJson(root: string, name: string, options?: { optional: true }): Promise<Json | undefined> {
  const path = join(root, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (options?.optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EmbeddingModelError('model_invalid', `cannot read ${path}`, { cause: error });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  } catch (error) {
    throw new EmbeddingModelError('model_invalid', `${path} is not valid JSON`, { cause: error });
  }
  throw new EmbeddingModelError('model_invalid', `${path} does not hold a JSON object`);
}

function firstNumber(json: Json, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const value = json[key];
    // Hugging Face writes 1e30 for "no limit" in model_max_length.
    if (typeof value === 'number' && Number.isFinite(value) && value > 0 && value < 1e9) return value;
  }
  return undefined;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
