// Shared by every k6 script: the scenario numbers from ../scenarios.json (the file the local
// runner reads too), k6 options built from them, the run's users, and one question per iteration.
//
// Env: BASE_URL (default http://127.0.0.1:3000), ADMIN_TOKEN (creates the run's users).
// k6's http API buffers whole responses, so over SSE it measures end to end (the server closes
// the stream after `done`), not time to first token: use the local runner for TTFT.
import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import type { Scenario as K6Scenario, Options } from 'k6/options';

type Load =
  | { kind: 'constant'; rate: number; durationS: number }
  | { kind: 'ramping'; startRate: number; stages: { target: number; durationS: number }[] }
  | { kind: 'closed'; vus: number; iterations: number; maxDurationS: number };

export type Scenario = {
  description: string;
  read: 'poll' | 'sse';
  questions: { kind: 'unique' } | { kind: 'zipf'; distinct: number; s: number; seed: number };
  load: Load;
  p99Ms: { ttft?: number; e2e: number; cacheHit?: number; refusal?: number };
};

type ScenarioFile = {
  users: number;
  httpReqFailedRate: number;
  scenarios: Record<string, Scenario>;
};

const file = JSON.parse(open('../scenarios.json')) as ScenarioFile;
const baseUrl = __ENV.BASE_URL ?? 'http://127.0.0.1:3000';

const endToEnd = new Trend('question_e2e_ms', true);
const neverFinished = new Counter('questions_never_finished');
const cacheHits = new Counter('questions_cache_hit');
const cacheHitLatency = new Trend('cache_hit_ms', true);
const refusalLatency = new Trend('refusal_ms', true);

/** The named scenario of scenarios.json; fails the run if there is none. */
export function scenarioNamed(name: string): Scenario {
  const scenario = file.scenarios[name];
  if (!scenario) throw new Error(`no scenario "${name}" in scenarios.json`);
  return scenario;
}

function executorOf(load: Load): K6Scenario {
  if (load.kind === 'constant') {
    return {
      executor: 'constant-arrival-rate',
      rate: load.rate,
      timeUnit: '1s',
      duration: `${load.durationS}s`,
      preAllocatedVUs: Math.ceil(load.rate * 2),
      maxVUs: Math.ceil(load.rate * 30),
    };
  }
  if (load.kind === 'ramping') {
    const peak = Math.max(load.startRate, ...load.stages.map((s) => s.target));
    return {
      executor: 'ramping-arrival-rate',
      startRate: load.startRate,
      timeUnit: '1s',
      stages: load.stages.map((s) => ({ target: s.target, duration: `${s.durationS}s` })),
      preAllocatedVUs: Math.ceil(peak * 2),
      maxVUs: Math.ceil(peak * 30),
    };
  }
  return {
    executor: 'per-vu-iterations',
    vus: load.vus,
    iterations: load.iterations,
    maxDuration: `${load.maxDurationS}s`,
  };
}

/** k6 options for a scenario: its executor and its thresholds (failed requests, p99 end to end). */
export function optionsFor(name: string): Options {
  const scenario = scenarioNamed(name);
  return {
    scenarios: { [name]: executorOf(scenario.load) },
    thresholds: {
      http_req_failed: [`rate<${file.httpReqFailedRate}`],
      question_e2e_ms: [`p(99)<${scenario.p99Ms.e2e}`],
      questions_never_finished: ['count<1'],
      ...(scenario.p99Ms.cacheHit !== undefined
        ? { cache_hit_ms: [`p(99)<${scenario.p99Ms.cacheHit}`] }
        : {}),
      ...(scenario.p99Ms.refusal !== undefined ? { refusal_ms: [`p(99)<${scenario.p99Ms.refusal}`] } : {}),
    },
  };
}

/** One user of the run. */
export type User = { id: string; apiKey: string };

/** k6 `setup()`: creates the run's internal-tier users, each with one note, through the admin API. */
export function createUsers(): User[] {
  const adminToken = __ENV.ADMIN_TOKEN;
  if (!adminToken) fail('ADMIN_TOKEN is required to create the run users');
  const users: User[] = [];
  for (let i = 0; i < file.users; i++) {
    const res = http.post(`${baseUrl}/v1/admin/users`, JSON.stringify({ tier: 'internal' }), {
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    });
    if (res.status !== 201) fail(`create user: ${res.status} ${String(res.body)}`);
    const user = res.json() as { id: string; api_key: string };
    const note = http.post(
      `${baseUrl}/v1/notes`,
      JSON.stringify({
        title: `Trip ${i}`,
        body: `For the trip to Lisbon pack a rain jacket, the charger and passport ${i}. The wifi password is maple-${i}.`,
      }),
      { headers: { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' } },
    );
    if (note.status !== 201) fail(`create note: ${note.status}`);
    users.push({ id: user.id, apiKey: user.api_key });
  }
  return users;
}

function zipfRank(distinct: number, s: number): number {
  // Inverse-CDF by linear scan: distinct is small (≈1000) and k6 VUs share nothing.
  let total = 0;
  for (let k = 0; k < distinct; k++) total += 1 / (k + 1) ** s;
  let target = Math.random() * total;
  for (let k = 0; k < distinct; k++) {
    target -= 1 / (k + 1) ** s;
    if (target <= 0) return k;
  }
  return distinct - 1;
}

/**
 * One iteration: submit a question (fresh, or from the Zipf mix, a question always going to the
 * same user since the answer cache is per user), then read it to its end over SSE or by polling.
 */
export function askOne(scenario: Scenario, users: User[]): void {
  const iteration = exec.scenario.iterationInTest;
  const rank =
    scenario.questions.kind === 'zipf'
      ? zipfRank(scenario.questions.distinct, scenario.questions.s)
      : iteration;
  const user = users[rank % users.length];
  if (!user) fail('no users');
  const query =
    scenario.questions.kind === 'zipf'
      ? `k6 popular question ${rank}: what should I pack for the trip to Lisbon?`
      : `k6 ${exec.scenario.startTime} question ${iteration}: what should I pack for the trip to Lisbon?`;
  const auth = { authorization: `Bearer ${user.apiKey}` };
  const begin = Date.now();
  const submit = http.post(`${baseUrl}/v1/queries`, JSON.stringify({ query }), {
    headers: { ...auth, 'content-type': 'application/json' },
    tags: { name: 'POST /v1/queries' },
  });
  check(submit, { 'submit accepted': (r) => r.status === 200 || r.status === 202 });
  if (submit.status === 200) {
    cacheHits.add(1);
    cacheHitLatency.add(Date.now() - begin);
    endToEnd.add(Date.now() - begin);
    return;
  }
  if (submit.status === 429 || submit.status === 503) refusalLatency.add(Date.now() - begin);
  if (submit.status !== 202) return;
  const { id } = submit.json() as { id: string };
  if (scenario.read === 'sse') {
    const events = http.get(`${baseUrl}/v1/queries/${id}/events`, {
      headers: { ...auth, accept: 'text/event-stream' },
      tags: { name: 'GET /v1/queries/:id/events' },
      timeout: '120s',
    });
    const done = events.status === 200 && String(events.body).includes('event: done');
    check(events, { 'stream reached done': () => done });
    if (done) endToEnd.add(Date.now() - begin);
    else neverFinished.add(1);
    return;
  }
  for (let poll = 0; poll < 10; poll++) {
    const view = http.get(`${baseUrl}/v1/queries/${id}?wait=20`, {
      headers: auth,
      tags: { name: 'GET /v1/queries/:id' },
      timeout: '30s',
    });
    const status = view.status === 200 ? (view.json() as { status: string }).status : 'error';
    if (status === 'succeeded' || status === 'failed') {
      check(view, { 'question succeeded': () => status === 'succeeded' });
      endToEnd.add(Date.now() - begin);
      return;
    }
    if (status === 'error') break;
  }
  neverFinished.add(1);
}
