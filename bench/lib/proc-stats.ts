import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux almost always). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcessSample {
  /** user + system CPU seconds so far. */
  cpuSeconds: number;
  /** user + system CPU seconds of the children it has waited for (cutime + cstime). */
  reapedChildrenCpuSeconds: number;
  rssBytes: number;
  /**
   * The private part of RSS (RssAnon: heap and stacks). RSS also counts the pages of the node
   * binary and libraries that every process shares, so RSS summed over processes overstates.
   */
  anonBytes: number;
  /** Peak RSS so far (VmHWM). */
  peakRssBytes: number;
}

/** Reads CPU time and memory of a process from /proc; undefined where /proc is unavailable. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime and cstime are fields 14-17 of the line, 12th-15th after the name.
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const childTicks = Number(fields[13]) + Number(fields[14]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      cpuSeconds: cpuTicks / CLOCK_TICKS,
      reapedChildrenCpuSeconds: childTicks / CLOCK_TICKS,
      rssBytes: statusKb(status, "VmRSS") * 1024,
      anonBytes: statusKb(status, "RssAnon") * 1024,
      peakRssBytes: statusKb(status, "VmHWM") * 1024,
    };
  } catch {
    return undefined;
  }
}

function statusKb(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : 0;
}

/** Busy and total CPU time of the whole machine, in clock ticks summed over all cores. */
export interface MachineSample {
  busyTicks: number;
  totalTicks: number;
  cores: number;
}

export function sampleMachine(): MachineSample | undefined {
  try {
    const stat = readFileSync("/proc/stat", "utf8");
    const [cpu, ...rest] = stat.split("\n");
    const ticks = cpu!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busyTicks: total - idle, totalTicks: total, cores: rest.filter((l) => /^cpu\d+ /.test(l)).length };
  } catch {
    return undefined;
  }
}

/** CPU seconds so far of each of `pids` still alive (e.g. the server's PostgreSQL backends). */
export function sampleProcesses(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const sample = sampleProcess(pid);
    if (sample) out.set(pid, sample.cpuSeconds);
  }
  return out;
}

/** CPU seconds spent between two samples by the processes in them (new ones count from zero). */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let seconds = 0;
  for (const [pid, cpu] of after) seconds += cpu - (before.get(pid) ?? 0);
  return seconds;
}
