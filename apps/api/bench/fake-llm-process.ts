import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Starts the fake LLM as its own process (apps/fake-llm/src/main.ts on a free port of 127.0.0.1)
 * and applies `settings` through its `PUT /control`. A process rather than an import: apps share
 * code only through packages, and a separate process keeps its work off the bench's event loop.
 */
export async function startFakeLlmProcess(settings: Record<string, number>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/fake-llm/src/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', FAKE_LLM_PORT: '0', FAKE_LLM_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`fake-llm exited with ${code}: ${output}`)));
  });
  const res = await fetch(`${url}/control`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  });
  if (res.status !== 200) throw new Error(`fake-llm control: ${res.status} ${await res.text()}`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
