import type { Stack } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type Target } from './run-scenario.ts';
import { type Load, loadScenarioFile, resizeLoad } from './scenarios.ts';
import {
  createUsers,
  type FakeLlmProcess,
  STACK_ADMIN_TOKEN,
  startFakeLlmProcess,
  startSystem,
} from './start-system.ts';

// Keeps the runner working: every scenario for ~2 s at a small fraction of its load, against the
// real stack (API, worker, fake LLM as processes). Asserts what it reports, not how fast.
const file = loadScenarioFile();
let fake: FakeLlmProcess;
let stack: Stack;
let target: Target;

beforeAll(async () => {
  fake = await startFakeLlmProcess(file.fakeLlm);
  // From source: another test file builds apps/*/dist in parallel (production-build.e2e.test.ts).
  stack = await startSystem(fake.url, { processes: '1', source: true });
  target = {
    apiUrl: stack.api.url,
    users: await createUsers(stack.api.url, STACK_ADMIN_TOKEN, 3),
    llmUrl: fake.url,
    redisUrl: stack.env.REDIS_URL,
    pids: { api: stack.api.child.pid ?? 0, worker1: stack.workers[0]?.child.pid ?? 0, 'fake-llm': fake.pid },
  };
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.stop();
});

/** A scale bringing the load's peak to about 4 questions/s, or 6 virtual users. */
function smokeScale(load: Load): number {
  if (load.kind === 'closed') return 6 / load.vus;
  const peak =
    load.kind === 'constant' ? load.rate : Math.max(load.startRate, ...load.stages.map((s) => s.target));
  return 4 / peak;
}

describe('npm run loadtest, every scenario for a few seconds', () => {
  for (const [name, scenario] of Object.entries(file.scenarios)) {
    it(`${name}: answers every question it accepted`, async () => {
      const report = await runScenario({
        name,
        scenario,
        // A closed load (one question per user) ends when every user is answered: its length is
        // a cap, which must leave a loaded machine time to answer, not a planned duration.
        load: resizeLoad(scenario.load, {
          durationS: scenario.load.kind === 'closed' ? 30 : 2,
          scale: smokeScale(scenario.load),
        }),
        target,
        drainS: 20,
        // The floor once is enough to keep it working.
        floor: name === 'sse',
        httpReqFailedRate: file.httpReqFailedRate,
      });
      expect(report.system.answered).toBeGreaterThan(0);
      expect(report.system.neverFinished).toBe(0);
      expect(report.system.transportErrors).toEqual({});
      expect(report.system.machineCpuMsPerAnswered).toBeGreaterThan(0);
      expect(report.system.processes.api?.peakRssMib).toBeGreaterThan(0);
      expect(report.redisClients?.peak).toBeGreaterThan(0);
      if (name === 'sse') {
        expect(report.floor?.answered).toBeGreaterThan(0);
        expect(report.floor?.neverFinished).toBe(0);
      }
    }, 40_000);
  }
});
