// `npm run loadtest -- <scenario> [options]`: runs a scenario of loadtest/scenarios.json against
// the system (started here as real processes, or a running API on loopback) and, in the same
// run, the floor (the fake LLM streamed straight to the runner); prints the report.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isLoopbackUrl } from './loopback.ts';
import { formatReport } from './report.ts';
import { DEFAULT_DRAIN_S, runScenario, type Target } from './run-scenario.ts';
import { loadScenarioFile, resizeLoad } from './scenarios.ts';
import { createUsers, STACK_ADMIN_TOKEN, startFakeLlmProcess, startSystem } from './start-system.ts';

const file = loadScenarioFile();
const usage = `Usage: npm run loadtest -- <scenario> [options]

Scenarios: ${Object.keys(file.scenarios).join(', ')}

Options:
  --duration <s>     planned length in seconds (ramping stages keep their proportions;
                     for closed loops, the time cap)
  --scale <f>        multiply arrival rates and virtual users (e.g. 0.05 for a smoke run)
  --users <n>        users created for the run (default ${file.users})
  --drain <s>        seconds answers may finish after the planned length (default ${DEFAULT_DRAIN_S})
  --url <url>        target a running API on loopback instead of starting one (needs --admin-token
                     or ADMIN_TOKEN); the floor then uses --llm-url or a fake LLM started here
  --llm-url <url>    fake LLM origin for the floor, with --url
  --redis-url <url>  Redis to sample INFO clients from, with --url (default REDIS_URL)
  --no-floor         skip the direct-stream floor
  --processes <n>    API_PROCESSES and WORKER_PROCESSES of the started system: a number or
                     "auto" (one per core); default 1 each
  --env <KEY=VALUE>  extra configuration of the started API and worker (repeatable), e.g.
                     --env QUEUE_MAX_WAIT_MS=0 to compare a setting side by side
  --source           run the API and worker from TypeScript through tsx (default: the production
                     build, node apps/<app>/dist/main.js, built first, as the image runs it)
  --cpu-prof <dir>   write a V8 CPU profile of each started API and worker process to <dir>
                     (open it in Chrome DevTools or speedscope)
  --json <path>      also write the report as JSON
  --help             this text
`;

function fail(message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      scale: { type: 'string' },
      users: { type: 'string' },
      drain: { type: 'string' },
      url: { type: 'string' },
      'llm-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'admin-token': { type: 'string' },
      'no-floor': { type: 'boolean' },
      processes: { type: 'string' },
      'cpu-prof': { type: 'string' },
      source: { type: 'boolean' },
      env: { type: 'string', multiple: true },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  fail((error as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const name = positionals[0];
if (!name || positionals.length > 1) fail('Give exactly one scenario.');
const scenario = file.scenarios[name];
if (!scenario) fail(`Unknown scenario "${name}".`);

function positiveNumber(option: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(`--${option} must be a positive number, got "${raw}".`);
  return n;
}
const durationS = positiveNumber('duration', values.duration);
const scale = positiveNumber('scale', values.scale);
const userCount = Math.round(positiveNumber('users', values.users) ?? file.users);
const drainS = values.drain === undefined ? DEFAULT_DRAIN_S : Number(values.drain);
if (!Number.isFinite(drainS) || drainS < 0) fail(`--drain must be a number ≥ 0, got "${values.drain}".`);
for (const option of ['url', 'llm-url', 'redis-url'] as const) {
  const value = values[option];
  if (value !== undefined && !isLoopbackUrl(value))
    fail(`--${option} must be a loopback URL (127.0.0.1, ::1, localhost), got "${value}".`);
}
if (values['llm-url'] && !values.url) fail('--llm-url goes with --url.');
const processes = values.processes ?? '1';
if (processes !== 'auto' && !(Number.isInteger(Number(processes)) && Number(processes) >= 1))
  fail(`--processes must be a whole number ≥ 1 or "auto", got "${processes}".`);
if (values.url && (values.processes || values['cpu-prof'] || values.env || values.source))
  fail('--processes, --cpu-prof, --env and --source start the system: not with --url.');
const extraEnv: Record<string, string> = {};
for (const pair of values.env ?? []) {
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
  if (!match) fail(`--env takes KEY=VALUE (an upper-case variable name), got "${pair}".`);
  extraEnv[match[1]!] = match[2]!;
}
const adminToken = values['admin-token'] ?? process.env.ADMIN_TOKEN;
if (values.url && !adminToken) fail("--url needs --admin-token or ADMIN_TOKEN to create the run's users.");

const load = resizeLoad(scenario.load, { durationS, scale });
const stops: (() => Promise<void>)[] = [];
async function stopAll(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => process.exit(130));
  });
}

try {
  let target: Target;
  const floor = values['no-floor'] !== true;
  if (values.url) {
    const apiUrl = values.url.replace(/\/$/, '');
    let llmUrl = values['llm-url'];
    const pids: Record<string, number> = {};
    if (!llmUrl && floor) {
      const fake = await startFakeLlmProcess(file.fakeLlm);
      stops.push(fake.stop);
      llmUrl = fake.url;
      pids['fake-llm'] = fake.pid;
    }
    const users = await createUsers(apiUrl, adminToken ?? '', userCount);
    target = { apiUrl, users, llmUrl, redisUrl: values['redis-url'] ?? process.env.REDIS_URL, pids };
  } else {
    const apps = values.source ? 'from source (tsx)' : 'the production build';
    console.error(`starting fake LLM, API and worker (${apps}; fake LLM: ${JSON.stringify(file.fakeLlm)}) …`);
    const fake = await startFakeLlmProcess(file.fakeLlm);
    stops.push(fake.stop);
    const stack = await startSystem(fake.url, {
      processes,
      cpuProfileDir: values['cpu-prof'],
      source: values.source ?? false,
      env: extraEnv,
    });
    stops.push(stack.stop);
    const users = await createUsers(stack.api.url, STACK_ADMIN_TOKEN, userCount);
    target = {
      apiUrl: stack.api.url,
      users,
      llmUrl: fake.url,
      redisUrl: stack.env.REDIS_URL,
      pids: {
        api: stack.api.child.pid ?? 0,
        ...Object.fromEntries(stack.workers.map((w, i) => [`worker${i + 1}`, w.child.pid ?? 0])),
        'fake-llm': fake.pid,
      },
    };
  }
  console.error(`running ${name} with ${userCount} users: ${JSON.stringify(load)} …`);
  const report = await runScenario({
    name,
    scenario,
    load,
    target,
    drainS,
    floor,
    httpReqFailedRate: file.httpReqFailedRate,
  });
  console.log(formatReport(report));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await stopAll();
}
