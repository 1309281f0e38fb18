import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/assistant.mjs', import.meta.url));

/** One run of the real `assistant` command as its own process, for tests. */
export type CliRun = {
  code: number | null;
  stdout: string;
  stderr: string;
  /** When each stdout chunk arrived, in ms after the start, and the exit time. */
  stdoutChunks: { atMs: number; text: string }[];
  exitAtMs: number;
};

/**
 * Runs `assistant <args>` with only the given environment (plus PATH and HOME); `onStdout` sees
 * each chunk as it arrives (to act mid-run).
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  options: { timeoutMs?: number; onStdout?: (text: string) => void } = {},
): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    // Not the repo root: the CLI must not depend on a .env or .local/ it happens to find.
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: CliRun = { code: null, stdout: '', stderr: '', stdoutChunks: [], exitAtMs: 0 };
  child.stdout.on('data', (chunk: Buffer) => {
    run.stdout += chunk.toString();
    run.stdoutChunks.push({ atMs: performance.now() - started, text: chunk.toString() });
    options.onStdout?.(chunk.toString());
  });
  child.stderr.on('data', (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      run.code = code;
      run.exitAtMs = performance.now() - started;
      resolve(run);
    });
  });
}
