import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mapConcurrent, STACK_ADMIN_TOKEN, type Stack, startStack } from '@assistant/testing';
import type { ScenarioFile } from './scenarios.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const UNLIMITED = 1_000_000_000;

/** The fake LLM as its own process, so its CPU and memory are measured apart from the runner's. */
export type FakeLlmProcess = { url: string; pid: number; stop(): Promise<void> };

/** Starts `apps/fake-llm/src/main.ts` on a free loopback port at the given latency settings. */
export async function startFakeLlmProcess(settings: ScenarioFile['fakeLlm']): Promise<FakeLlmProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/fake-llm/src/main.ts'], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      FAKE_LLM_PORT: '0',
      FAKE_LLM_HOST: '127.0.0.1',
      FAKE_LLM_TTFT_MS: String(settings.ttftMs),
      FAKE_LLM_TOKENS_PER_SECOND: String(settings.tokensPerSecond),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fake-llm did not start:\n${output}`)), 30_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fake-llm exited with ${code}:\n${output}`));
    });
  });
  // Answer length has no env variable; the control endpoint sets it.
  const control = await fetch(`${url}/control`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ answerTokens: settings.answerTokens }),
  });
  if (control.status !== 200) throw new Error(`fake-llm /control: ${control.status} ${await control.text()}`);
  return {
    url,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One user of the run: its key, with one note so retrieval has something to find. */
export type LoadUser = { id: string; apiKey: string };

/** How the system is started: process counts (a number or `auto`), where CPU profiles go, extra configuration. */
export type SystemOptions = {
  processes: string;
  cpuProfileDir?: string | undefined;
  env?: Record<string, string>;
  /**
   * Run the apps from their TypeScript sources through tsx instead of the production build (what
   * the image runs: `node apps/<app>/dist/main.js`, built here first). tsx source-maps every stack
   * trace and runs a module loader thread, which a load run would otherwise measure.
   */
  source?: boolean;
};

/**
 * Starts the API and the worker as real processes (the e2e stack: its own Redis prefix and
 * database, removed at the end) pointed at the fake LLM, with the `internal` tier's limits
 * raised so admission reflects capacity rather than per-user quotas.
 */
export async function startSystem(
  llmUrl: string,
  options: SystemOptions = { processes: '1' },
): Promise<Stack> {
  const nodeArgs = options.cpuProfileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.cpuProfileDir)}`]
    : [];
  if (!options.source) {
    const build = spawnSync(process.execPath, ['scripts/build.mjs', 'api', 'worker'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`the production build failed:\n${build.stdout}${build.stderr}`);
  }
  return startStack(
    'loadtest',
    {
      API_PROCESSES: options.processes,
      WORKER_PROCESSES: options.processes,
      LLM_PROVIDER: 'endpoint',
      LLM_ENDPOINT_URL: `${llmUrl}/v1`,
      LLM_MODEL: 'fake-model',
      TIERS_JSON: JSON.stringify({
        internal: {
          perMinute: UNLIMITED,
          perHour: UNLIMITED,
          perDay: UNLIMITED,
          dailyBudgetMicros: UNLIMITED,
          maxInFlight: 100_000,
        },
      }),
      GLOBAL_QUERIES_PER_HOUR: String(UNLIMITED),
      GLOBAL_DAILY_BUDGET_USD: '1000000',
      // The service's own default, which the test stacks turn off.
      QUEUE_MAX_WAIT_MS: '15000',
      ...options.env,
    },
    { nodeArgs, built: !options.source },
  );
}

/** Creates `count` internal-tier users through the admin API, each with one note. */
export async function createUsers(apiUrl: string, adminToken: string, count: number): Promise<LoadUser[]> {
  return mapConcurrent(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const res = await fetch(`${apiUrl}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tier: 'internal' }),
      });
      if (res.status !== 201) throw new Error(`create user: ${res.status} ${await res.text()}`);
      const user = (await res.json()) as { id: string; api_key: string };
      const note = await fetch(`${apiUrl}/v1/notes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          title: `Trip ${i}`,
          body: `For the trip to Lisbon pack a rain jacket, the charger and passport ${i}. The wifi password is maple-${i}.`,
        }),
      });
      if (note.status !== 201) throw new Error(`create note: ${note.status} ${await note.text()}`);
      return { id: user.id, apiKey: user.api_key };
    },
  );
}

export { STACK_ADMIN_TOKEN };
