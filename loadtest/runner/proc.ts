import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Linux accounts CPU time in clock ticks (USER_HZ), almost always 100 per second.
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const msPerTick = 1000 / ticksPerSecond;

/** Busy CPU time of the whole machine so far (all cores, everything but idle and iowait), in ms. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.slice(0, 8).reduce((sum, n) => sum + n, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return (total - idle) * msPerTick;
}

/** The live child processes of a process (a process pool's copies), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

/**
 * A process and its live descendants (a supervisor and the copies it runs), leaving out the
 * subtrees of `measuredApart` (the runner starts the system, but each app is counted as itself).
 */
function treeOf(pid: number, measuredApart: ReadonlySet<number>): number[] {
  const children = childrenOf(pid).filter((child) => !measuredApart.has(child));
  return [pid, ...children.flatMap((child) => treeOf(child, measuredApart))];
}

/**
 * CPU time (user + system) a process and its live descendants used so far, in ms (a pooled
 * app counts its copies); NaN once the process is gone.
 */
export function processCpuMs(pid: number, measuredApart: ReadonlySet<number> = new Set()): number {
  const own = ownCpuMs(pid);
  if (Number.isNaN(own)) return own;
  return treeOf(pid, measuredApart)
    .slice(1)
    .reduce((sum, child) => sum + (ownCpuMs(child) || 0), own);
}

function ownCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * msPerTick;
  } catch {
    return Number.NaN;
  }
}

/**
 * Peak resident set size of a process so far (VmHWM), in MiB, summed over its live descendants
 * (an upper bound for a pool: each copy's peak, added); NaN once the process is gone.
 */
export function processPeakRssMib(pid: number, measuredApart: ReadonlySet<number> = new Set()): number {
  const own = ownPeakRssMib(pid);
  if (Number.isNaN(own)) return own;
  return treeOf(pid, measuredApart)
    .slice(1)
    .reduce((sum, child) => sum + (ownPeakRssMib(child) || 0), own);
}

function ownPeakRssMib(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(status.match(/^VmHWM:\s+(\d+)/m)?.[1]);
    return kib / 1024;
  } catch {
    return Number.NaN;
  }
}

/** The 1/5/15-minute load averages, as `uptime` shows them. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** CPU used between `begin()` and `end()`: by the machine and by each named process. */
export type CpuWindow = {
  end(): { machineMs: number; processes: Record<string, { cpuMs: number; peakRssMib: number }> };
};

/** Starts measuring CPU over a window for the machine and the given processes. */
export function beginCpuWindow(pids: Record<string, number>): CpuWindow {
  const machineStart = machineBusyMs();
  const apart = new Set(Object.values(pids));
  const starts = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid, apart)]),
  );
  return {
    end() {
      const processes: Record<string, { cpuMs: number; peakRssMib: number }> = {};
      for (const [name, pid] of Object.entries(pids)) {
        processes[name] = {
          cpuMs: processCpuMs(pid, apart) - (starts[name] ?? Number.NaN),
          peakRssMib: processPeakRssMib(pid, apart),
        };
      }
      return { machineMs: machineBusyMs() - machineStart, processes };
    },
  };
}
