import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddingModelError } from './embedding-errors.ts';
import { readModelFiles } from './model-files.ts';

let dir: string;

async function write(files: Record<string, unknown>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
}

const bertConfig = { hidden_size: 384, max_position_embeddings: 512, pad_token_id: 0 };
const base = {
  'config.json': bertConfig,
  'tokenizer.json': {},
  'tokenizer_config.json': { model_max_length: 512 },
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-files-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readModelFiles', () => {
  it('prefers onnx/model_q4.onnx, then onnx/model.onnx, then any non-fp16 onnx/*.onnx', async () => {
    await write({ ...base, 'onnx/model_fp16.onnx': '', 'onnx/model_bnb4.onnx': '' });
    expect((await readModelFiles(dir)).onnxPath).toBe(join(dir, 'onnx/model_bnb4.onnx'));
    await write({ 'onnx/model.onnx': '' });
    expect((await readModelFiles(dir)).onnxPath).toBe(join(dir, 'onnx/model.onnx'));
    await write({ 'onnx/model_q4.onnx': '' });
    expect((await readModelFiles(dir)).onnxPath).toBe(join(dir, 'onnx/model_q4.onnx'));
  });

  it('loads the file the caller names, relative to the folder', async () => {
    await write({ ...base, 'onnx/model_q4.onnx': '', 'onnx/model_fp16.onnx': '' });
    expect((await readModelFiles(dir, { file: 'onnx/model_fp16.onnx' })).onnxPath).toBe(
      join(dir, 'onnx/model_fp16.onnx'),
    );
    await expect(readModelFiles(dir, { file: 'onnx/nope.onnx' })).rejects.toMatchObject({
      code: 'model_not_found',
    });
  });

  it('uses 256 word pieces when only tokenizer_config (512) speaks, and max_seq_length when present', async () => {
    await write({ ...base, 'onnx/model.onnx': '' });
    expect((await readModelFiles(dir)).maxTokens).toBe(256);
    await write({ 'sentence_bert_config.json': { max_seq_length: 384 } });
    expect((await readModelFiles(dir)).maxTokens).toBe(384);
  });

  it('caps the window by model_max_length and max_position_embeddings', async () => {
    await write({
      ...base,
      'onnx/model.onnx': '',
      'tokenizer_config.json': { model_max_length: 128 },
      'sentence_bert_config.json': { max_seq_length: 512 },
    });
    expect((await readModelFiles(dir)).maxTokens).toBe(128);
    await write({
      'tokenizer_config.json': { model_max_length: 1e30 },
      'config.json': { hidden_size: 8, max_position_embeddings: 200 },
    });
    expect((await readModelFiles(dir)).maxTokens).toBe(200);
  });

  it('accepts a maxTokens override up to the position embeddings', async () => {
    await write({ ...base, 'onnx/model.onnx': '' });
    expect((await readModelFiles(dir, { maxTokens: 512 })).maxTokens).toBe(512);
    await expect(readModelFiles(dir, { maxTokens: 513 })).rejects.toThrow(RangeError);
  });

  it('reads dimension, pad id and pooling, and names the model by folder or hub id', async () => {
    await write({
      ...base,
      'onnx/model.onnx': '',
      '1_Pooling/config.json': { pooling_mode_cls_token: true },
    });
    const files = await readModelFiles(dir);
    expect(files).toMatchObject({ dimension: 384, padTokenId: 0, pooling: 'cls', modelId: basename(dir) });
    await write({ 'config.json': { ...bertConfig, _name_or_path: 'BAAI/bge-small-en-v1.5' } });
    expect((await readModelFiles(dir)).modelId).toBe('BAAI/bge-small-en-v1.5');
    await write({ 'config.json': { ...bertConfig, _name_or_path: '/tmp/export/model' } });
    expect((await readModelFiles(dir)).modelId).toBe(basename(dir));
  });

  it('explains a missing folder, a folder without a graph and broken JSON', async () => {
    const missing = readModelFiles(join(dir, 'absent'));
    await expect(missing).rejects.toBeInstanceOf(EmbeddingModelError);
    await expect(missing).rejects.toThrow(/setup-model\.mjs.*EMBEDDING_MODEL_DIR/);
    await write(base);
    await expect(readModelFiles(dir)).rejects.toMatchObject({ code: 'model_invalid', message: /no onnx/ });
    await write({ 'onnx/model.onnx': '', 'config.json': '{ nope' });
    await expect(readModelFiles(dir)).rejects.toMatchObject({
      code: 'model_invalid',
      message: /not valid JSON/,
    });
  });
});
