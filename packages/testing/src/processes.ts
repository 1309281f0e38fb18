import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A real app process started by a test. */
export type ServiceProcess = {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process printed so far (JSON log lines). */
  output(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/**
 * Starts `apps/<app>/src/main.ts` as its own Node process with the given environment and waits
 * for its "listening" log line (the app picks a free port when PORT/WORKER_PORT is 0). With
 * `built`, runs the production build instead, `node apps/<app>/dist/main.js`, as the image does.
 * `nodeArgs` go to `node` itself (for example `--cpu-prof`, which NODE_OPTIONS refuses).
 */
export async function startService(
  app: 'api' | 'worker',
  env: Record<string, string>,
  options: { timeoutMs?: number; built?: boolean; nodeArgs?: string[] } = {},
): Promise<ServiceProcess> {
  const main = options.built ? [`apps/${app}/dist/main.js`] : ['--import', 'tsx', `apps/${app}/src/main.ts`];
  const args = [...(options.nodeArgs ?? []), ...main];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${app} did not start within ${options.timeoutMs ?? 30_000} ms:\n${output}`)),
      options.timeoutMs ?? 30_000,
    );
    const onData = () => {
      const match = output.match(/"port":(\d+)[^\n]*listening/);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited with ${code} before listening:\n${output}`));
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
