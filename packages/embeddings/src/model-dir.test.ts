import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultModelDir } from './model-dir.ts';

describe('defaultModelDir', () => {
  it('uses EMBEDDING_MODEL_DIR when set', () => {
    expect(defaultModelDir({ EMBEDDING_MODEL_DIR: '/models/mine', XDG_CACHE_HOME: '/c' })).toBe(
      '/models/mine',
    );
    expect(defaultModelDir({ EMBEDDING_MODEL_DIR: 'rel/dir' })).toBe(resolve('rel/dir'));
  });

  it('falls back to the XDG cache, then ~/.cache', () => {
    const tail = join('assistant-service', 'models', 'all-MiniLM-L6-v2-ONNX');
    expect(defaultModelDir({ XDG_CACHE_HOME: '/xdg' })).toBe(join('/xdg', tail));
    expect(defaultModelDir({ HOME: '/home/ann' })).toBe(join('/home/ann/.cache', tail));
    expect(defaultModelDir({ EMBEDDING_MODEL_DIR: '', XDG_CACHE_HOME: '', HOME: '/h' })).toBe(
      join('/h/.cache', tail),
    );
  });
});
