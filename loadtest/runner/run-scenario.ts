import { setMaxListeners } from 'node:events';
import { createZipf, seededRandom } from '../../apps/api/bench/zipf.ts';
import { askQuestion } from './ask-question.ts';
import { streamDirect } from './direct-stream.ts';
import { beginCpuWindow, loadAverage } from './proc.ts';
import { createRecorder } from './recorder.ts';
import { sampleRedisClients } from './redis-clients.ts';
import { readRefusalReasons, refusalsBetween } from './refusal-reasons.ts';
import type { PhaseReport, Report } from './report.ts';
import { type Load, loadDurationS, type Scenario } from './scenarios.ts';
import { arrivalOffsets, runClosedLoop, runOpenLoop } from './schedule.ts';
import type { LoadUser } from './start-system.ts';

/** Where the run sends traffic and which processes it measures. */
export type Target = {
  apiUrl: string;
  users: LoadUser[];
  /** The fake LLM the floor streams from; no floor phase without it. */
  llmUrl?: string;
  redisUrl?: string;
  /** Processes to account CPU and peak RSS for, by name (the runner itself is always included). */
  pids: Record<string, number>;
};

/** Seconds a phase may run past its planned length for answers still streaming, then it is cut off. */
export const DEFAULT_DRAIN_S = 60;

async function runPhase(
  load: Load,
  drainS: number,
  pids: Record<string, number>,
  send: (
    i: number,
    dueAt: number,
    recorder: ReturnType<typeof createRecorder>,
    signal: AbortSignal,
  ) => Promise<void>,
): Promise<PhaseReport & { maxLagMs: number }> {
  const recorder = createRecorder();
  const controller = new AbortController();
  // Every request of the phase listens on this one signal: thousands of listeners is the design.
  setMaxListeners(0, controller.signal);
  // The hard limit: nothing of the phase outlives planned length + drain.
  const limitMs = (loadDurationS(load) + (load.kind === 'closed' ? 0 : drainS)) * 1000;
  const stopScheduling = new AbortController();
  const scheduleTimer = setTimeout(() => stopScheduling.abort(), loadDurationS(load) * 1000 + 1000);
  const hardTimer = setTimeout(() => {
    stopScheduling.abort();
    controller.abort();
  }, limitMs);
  const cpu = beginCpuWindow(pids);
  const begin = performance.now();
  const sendOne = (i: number, dueAt: number) => send(i, dueAt, recorder, controller.signal);
  const { started, maxLagMs } =
    load.kind === 'closed'
      ? await runClosedLoop(load.vus, load.iterations, sendOne, stopScheduling.signal)
      : await runOpenLoop(arrivalOffsets(load), sendOne, stopScheduling.signal);
  const wallS = (performance.now() - begin) / 1000;
  clearTimeout(scheduleTimer);
  clearTimeout(hardTimer);
  const used = cpu.end();
  const counts = recorder.summary();
  const per = (n: number) => (counts.answered > 0 ? n / counts.answered : Number.NaN);
  return {
    ...counts,
    started,
    maxLagMs,
    wallS,
    throughputPerS: counts.answered / wallS,
    cacheHitRate: counts.answered > 0 ? counts.cacheHits / counts.answered : 0,
    machineCpuMs: used.machineMs,
    machineCpuMsPerAnswered: per(used.machineMs),
    processes: Object.fromEntries(
      Object.entries(used.processes).map(([name, p]) => [
        name,
        { cpuMs: p.cpuMs, cpuMsPerAnswered: per(p.cpuMs), peakRssMib: p.peakRssMib },
      ]),
    ),
  };
}

/** Waits (up to 60 s) until the measured processes use under 5% of a core over a second. */
async function settle(pids: Record<string, number>): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const window = beginCpuWindow(pids);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = Object.values(window.end().processes).reduce(
      (sum, p) => sum + (Number.isFinite(p.cpuMs) ? p.cpuMs : 0),
      0,
    );
    if (busy < 50) return;
  }
}

/** Picks the question and the user of arrival i: fresh questions, or a Zipf mix where a question always belongs to the same user (the answer cache is per user). */
function questionPicker(scenario: Scenario, users: LoadUser[], runId: string) {
  if (scenario.questions.kind === 'unique') {
    return (i: number) => ({
      user: users[i % users.length]!,
      query: `Load ${runId} question ${i}: what should I pack for the trip to Lisbon?`,
    });
  }
  const draw = createZipf(
    scenario.questions.distinct,
    scenario.questions.s,
    seededRandom(scenario.questions.seed),
  );
  return () => {
    const rank = draw();
    return {
      user: users[rank % users.length]!,
      query: `Load ${runId} popular question ${rank}: what should I pack for the trip to Lisbon?`,
    };
  };
}

/**
 * Runs one scenario against a target: the questions through the system, then (with an LLM URL)
 * the floor, the same load shape streamed straight from the fake LLM. Both phases are bounded.
 */
export async function runScenario(options: {
  name: string;
  scenario: Scenario;
  load: Load;
  target: Target;
  drainS?: number;
  floor?: boolean;
  httpReqFailedRate: number;
}): Promise<Report> {
  const { scenario, load, target } = options;
  const drainS = options.drainS ?? DEFAULT_DRAIN_S;
  const runId = Date.now().toString(36);
  const pick = questionPicker(scenario, target.users, runId);
  const pids = { runner: process.pid, ...target.pids };
  const startedAt = new Date().toISOString();
  const loadAverageBefore = loadAverage();
  const begin = performance.now();

  const redis = target.redisUrl ? sampleRedisClients(target.redisUrl) : undefined;
  await redis?.start();
  const refusalsBefore = await readRefusalReasons(target.apiUrl);
  const system = await runPhase(load, drainS, pids, (i, dueAt, recorder, signal) => {
    const { user, query } = pick(i);
    return askQuestion({
      baseUrl: target.apiUrl,
      apiKey: user.apiKey,
      query,
      read: scenario.read,
      dueAt,
      recorder,
      signal,
    });
  });
  const redisClients = await redis?.stop();
  const refusalsAfter = await readRefusalReasons(target.apiUrl);
  const refusalsByReason =
    refusalsBefore && refusalsAfter ? refusalsBetween(refusalsBefore, refusalsAfter) : undefined;

  const llmUrl = target.llmUrl;
  // Questions cut off at the time limit are still being worked on server-side; let that finish so
  // the floor's CPU figures are the floor's own.
  if (options.floor !== false && llmUrl) await settle(target.pids);
  const floor =
    options.floor !== false && llmUrl
      ? await runPhase(load, drainS, pids, (_i, dueAt, recorder, signal) =>
          streamDirect({ llmUrl, dueAt, recorder, signal }),
        )
      : undefined;

  const statusTotal = Object.values(system.statuses).reduce((a, b) => a + b, 0);
  const transportTotal = Object.values(system.transportErrors).reduce((a, b) => a + b, 0);
  const failedStatuses = Object.entries(system.statuses)
    .filter(([key]) => !/^\S+ (200|202)$/.test(key))
    .reduce((sum, [, n]) => sum + n, 0);
  const requests = statusTotal + transportTotal;
  const thresholds = [
    {
      name: 'http_req_failed rate',
      limit: options.httpReqFailedRate,
      actual: requests > 0 ? (failedStatuses + transportTotal) / requests : 0,
    },
    { name: 'end-to-end p99 ms', limit: scenario.p99Ms.e2e, actual: system.e2eMs.p99 },
    ...(scenario.p99Ms.ttft !== undefined && scenario.read === 'sse'
      ? [{ name: 'time to first token p99 ms', limit: scenario.p99Ms.ttft, actual: system.ttftMs.p99 }]
      : []),
    ...(scenario.p99Ms.cacheHit !== undefined
      ? [{ name: 'cache-hit p99 ms', limit: scenario.p99Ms.cacheHit, actual: system.cacheHitE2eMs.p99 }]
      : []),
    // No refusal at all passes this one (its p99 is then 0).
    ...(scenario.p99Ms.refusal !== undefined
      ? [
          {
            name: 'refusal p99 ms',
            limit: scenario.p99Ms.refusal,
            actual: system.refusalMs.count > 0 ? system.refusalMs.p99 : 0,
          },
        ]
      : []),
  ].map((t) => ({ ...t, ok: Number.isFinite(t.actual) && t.actual < t.limit }));

  const { maxLagMs, ...systemReport } = system;
  return {
    scenario: options.name,
    description: scenario.description,
    target: target.apiUrl,
    startedAt,
    loadAverageBefore,
    loadAverageAfter: loadAverage(),
    plannedDurationS: loadDurationS(load),
    wallS: (performance.now() - begin) / 1000,
    maxSchedulerLagMs: maxLagMs,
    system: systemReport,
    ...(floor ? { floor: (({ maxLagMs: _, ...rest }) => rest)(floor) } : {}),
    ...(redisClients ? { redisClients } : {}),
    ...(refusalsByReason ? { refusalsByReason } : {}),
    thresholds,
  };
}
