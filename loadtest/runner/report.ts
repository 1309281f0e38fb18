import type { Percentiles } from './percentiles.ts';
import type { RunCounts } from './recorder.ts';

/** Everything one run of a scenario measured; also what `--json` writes. */
export type Report = {
  scenario: string;
  description: string;
  target: string;
  startedAt: string;
  loadAverageBefore: string;
  loadAverageAfter: string;
  plannedDurationS: number;
  wallS: number;
  maxSchedulerLagMs: number;
  system: PhaseReport;
  floor?: PhaseReport;
  redisClients?: { before: number; peak: number };
  /** 503 `overloaded` refusals during the system phase by the API's reason (its `/metrics`). */
  refusalsByReason?: Record<string, number>;
  thresholds: { name: string; limit: number; actual: number; ok: boolean }[];
};

/** One phase: the questions through the system, or the direct streams of the floor. */
export type PhaseReport = RunCounts & {
  started: number;
  wallS: number;
  throughputPerS: number;
  cacheHitRate: number;
  machineCpuMs: number;
  machineCpuMsPerAnswered: number;
  processes: Record<string, { cpuMs: number; cpuMsPerAnswered: number; peakRssMib: number }>;
};

const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : 'n/a');
const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}: ${n}`)
    .join(', ') || 'none';
const latency = (p: Percentiles) =>
  `p50 ${ms(p.p50)}, p95 ${ms(p.p95)}, p99 ${ms(p.p99)}, max ${ms(p.max)} (n=${p.count})`;

function phaseLines(name: string, phase: PhaseReport): string[] {
  return [
    `${name}:`,
    `  started ${phase.started}, accepted ${phase.accepted}, answered ${phase.answered}, never finished ${phase.neverFinished}`,
    `  HTTP status:       ${counts(phase.statuses)}`,
    `  transport errors:  ${counts(phase.transportErrors)}`,
    `  outcomes:          ${counts(phase.outcomes)}`,
    `  time to 1st token: ${latency(phase.ttftMs)}`,
    `  end to end:        ${latency(phase.e2eMs)}`,
    ...(phase.cacheHitE2eMs.count > 0
      ? [
          `    cache hits:      ${latency(phase.cacheHitE2eMs)}`,
          `    generated:       ${latency(phase.generatedE2eMs)}`,
        ]
      : []),
    ...(phase.refusalMs.count > 0 ? [`  refusals took:     ${latency(phase.refusalMs)}`] : []),
    `  throughput ${phase.throughputPerS.toFixed(1)} answered/s over ${phase.wallS.toFixed(1)} s; cache hit rate ${(phase.cacheHitRate * 100).toFixed(1)}%`,
    `  machine CPU ${Math.round(phase.machineCpuMs)} ms = ${phase.machineCpuMsPerAnswered.toFixed(1)} ms per answered`,
    ...Object.entries(phase.processes).map(
      ([proc, p]) =>
        `    ${proc.padEnd(9)} CPU ${Math.round(p.cpuMs)} ms (${p.cpuMsPerAnswered.toFixed(1)} ms/answered), peak RSS ${p.peakRssMib.toFixed(0)} MiB`,
    ),
  ];
}

/** The report as the lines the runner prints. */
export function formatReport(report: Report): string {
  const lines = [
    `scenario ${report.scenario}: ${report.description}`,
    `target ${report.target}; started ${report.startedAt}; load average before ${report.loadAverageBefore}, after ${report.loadAverageAfter}`,
    `planned ${report.plannedDurationS} s, took ${report.wallS.toFixed(1)} s; worst scheduler lag ${ms(report.maxSchedulerLagMs)}`,
    ...phaseLines('system', report.system),
  ];
  if (report.refusalsByReason && Object.keys(report.refusalsByReason).length > 0) {
    const reasons = Object.entries(report.refusalsByReason).map(([reason, n]) => `${reason} ${n}`);
    lines.push(`  503 overloaded by reason (API /metrics): ${reasons.join(', ')}`);
  }
  if (report.redisClients) {
    lines.push(
      `  Redis connected_clients: ${report.redisClients.before} before, peak ${report.redisClients.peak} (shared Redis: includes other clients)`,
    );
  }
  if (report.floor) {
    const floor = report.floor;
    lines.push(...phaseLines('floor (fake LLM streamed straight to the runner)', floor));
    const ratio = (a: number, b: number) =>
      b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : 'n/a';
    lines.push(
      'system / floor:',
      `  TTFT p50 ${ratio(report.system.ttftMs.p50, floor.ttftMs.p50)}, p99 ${ratio(report.system.ttftMs.p99, floor.ttftMs.p99)}; ` +
        `end to end p50 ${ratio(report.system.e2eMs.p50, floor.e2eMs.p50)}, p99 ${ratio(report.system.e2eMs.p99, floor.e2eMs.p99)}; ` +
        `machine CPU per answered ${ratio(report.system.machineCpuMsPerAnswered, floor.machineCpuMsPerAnswered)}`,
    );
  }
  lines.push(
    'thresholds:',
    ...report.thresholds.map(
      (t) => `  ${t.ok ? 'ok  ' : 'FAIL'} ${t.name}: ${Number(t.actual.toFixed(4))} (limit ${t.limit})`,
    ),
  );
  return lines.join('\n');
}
