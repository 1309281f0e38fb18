import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Folder name of the model `scripts/setup-model.mjs` installs into the cache. */
export const DEFAULT_MODEL_NAME = 'all-MiniLM-L6-v2-ONNX';

/** The environment variables {@link defaultModelDir} looks at. */
export type ModelDirEnv = {
  readonly EMBEDDING_MODEL_DIR?: string | undefined;
  readonly XDG_CACHE_HOME?: string | undefined;
  readonly HOME?: string | undefined;
};

/**
 * Where the embedding model lives: `EMBEDDING_MODEL_DIR` when set, else the cache folder that
 * `node scripts/setup-model.mjs` fills (`${XDG_CACHE_HOME:-~/.cache}/assistant-service/models/…`).
 *
 * @example
 * const model = await loadEmbeddingModel(defaultModelDir(process.env));
 */
export function defaultModelDir(env: ModelDirEnv): string {
  if (env.EMBEDDING_MODEL_DIR) return resolve(env.EMBEDDING_MODEL_DIR);
  const cacheRoot = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(env.HOME || homedir(), '.cache');
  return join(cacheRoot, 'assistant-service', 'models', DEFAULT_MODEL_NAME);
}
