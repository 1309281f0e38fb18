export type {
  BatchEmbeddingModel,
  BatchingEmbedderDeps,
  BatchingEmbedderOptions,
  Embedder,
} from './batching-embedder.ts';
export { createBatchingEmbedder } from './batching-embedder.ts';
export type { Chunk, ChunkTextOptions, TokenCounter } from './chunk-text.ts';
export { chunkText } from './chunk-text.ts';
export type { EmbeddingInputErrorCode, EmbeddingModelErrorCode } from './embedding-errors.ts';
export { EmbeddingInputError, EmbeddingModelError } from './embedding-errors.ts';
export type { EmbeddingModelInfo, EmbeddingModelOptions } from './embedding-model.ts';
export { EmbeddingModel, loadEmbeddingModel } from './embedding-model.ts';
export type { ModelDirEnv } from './model-dir.ts';
export { DEFAULT_MODEL_NAME, defaultModelDir } from './model-dir.ts';
export type { ModelFiles, ModelFilesOptions } from './model-files.ts';
export { DEFAULT_MAX_TOKENS, readModelFiles } from './model-files.ts';
export type { Pooling } from './pooling.ts';
export type { TextTokenizer, TextTokenizerOptions, TokenizedText } from './text-tokenizer.ts';
export { createTextTokenizer, loadTextTokenizer } from './text-tokenizer.ts';
export type { CountTokens } from './token-prefix.ts';
export { cosineSimilarity, dot, l2Normalize, vectorFromBytes, vectorToBytes } from './vector.ts';
