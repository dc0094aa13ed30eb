import type { DatabaseKind } from "./args.js";

/** Targets from the benchmark issue, at 16 clients on a 2-core machine. */
export const TARGETS: Record<DatabaseKind, { transitionsPerSecond: number; p99Ms: number }> = {
  sqlite: { transitionsPerSecond: 3000, p99Ms: 50 },
  postgres: { transitionsPerSecond: 1500, p99Ms: 50 },
};

export interface Latency {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface DatabaseResult {
  database: DatabaseKind;
  server: string;
  /** Commit the server was built from (dist/ is what runs; rebuild with `npx tsc -b`). */
  build: string;
  /** CPU ms of `node -e 0` just before this benchmark: how fast the machine was (bench/lib/machine-speed.ts). */
  nodeStartCpuMs: number | null;
  clients: number;
  tasksPerRun: number;
  seconds: number;
  runsCompleted: number;
  runsPerSecond: number;
  acceptedTransitions: number;
  transitionsPerSecond: number;
  requestsPerSecond: number;
  nonAccept: Record<string, number>;
  httpErrors: Record<string, number>;
  setStateMs: Latency;
  createMs: Latency;
  /** Percent of one core over the measured window; null without a PID to read. */
  serverCpuPercent: number | null;
  serverRssMb: number | null;
  serverPeakRssMb: number | null;
  loadGeneratorCpuPercent: number;
  /** Local `postgres` processes, percent of one core; null on SQLite or when none are visible. */
  postgresCpuPercent: number | null;
  /** Whole machine: busy share of all cores over the window. */
  machineCpu: { busyPercent: number; cores: number } | null;
  /** The same over one second before the load started: other work on the machine skews figures. */
  machineCpuBefore: { busyPercent: number; cores: number } | null;
  correctness: {
    flowRunsCreated: number;
    flowRunsCompleted: number;
    taskRunsCreated: number;
    taskRunsCompleted: number;
    ok: boolean;
  };
  targetMet: boolean | null;
}

/** Nearest-rank percentiles of `samples` (sorted in place). */
export function latency(samples: number[]): Latency {
  samples.sort((a, b) => a - b);
  const rank = (p: number): number => (samples.length === 0 ? 0 : samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)]!);
  return { count: samples.length, p50: rank(50), p95: rank(95), p99: rank(99), max: samples.length === 0 ? 0 : samples[samples.length - 1]! };
}

export function formatTable(r: DatabaseResult): string {
  const ms = (l: Latency): string => `p50 ${l.p50.toFixed(1)}  p95 ${l.p95.toFixed(1)}  p99 ${l.p99.toFixed(1)}  max ${l.max.toFixed(1)}  (n=${l.count})`;
  const counts = (m: Record<string, number>): string => {
    const entries = Object.entries(m);
    if (entries.length === 0) return "0";
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    return `${total}  (${entries.map(([k, n]) => `${k}: ${n}`).join("; ")})`;
  };
  const target = TARGETS[r.database];
  const rows: Array<[string, string]> = [
    ["server", r.server],
    ["build", r.build],
    ["machine speed", r.nodeStartCpuMs === null ? "n/a" : `node -e 0 costs ${r.nodeStartCpuMs} ms of CPU (mean of 10; lower is faster)`],
    ["clients / task runs per flow run", `${r.clients} / ${r.tasksPerRun}`],
    ["measured seconds", r.seconds.toFixed(2)],
    ["flow runs completed", String(r.runsCompleted)],
    ["flow runs/s", r.runsPerSecond.toFixed(1)],
    ["accepted transitions/s", `${r.transitionsPerSecond.toFixed(1)}  (${r.acceptedTransitions} accepted)`],
    ["HTTP requests/s", r.requestsPerSecond.toFixed(1)],
    ["set_state latency ms", ms(r.setStateMs)],
    ["create latency ms", ms(r.createMs)],
    ["non-ACCEPT answers", counts(r.nonAccept)],
    ["HTTP errors", counts(r.httpErrors)],
    [
      "server process",
      r.serverCpuPercent === null
        ? "n/a (no PID; pass --server-pid)"
        : `CPU ${r.serverCpuPercent.toFixed(0)}% of one core, RSS ${r.serverRssMb!.toFixed(0)} MB (peak ${r.serverPeakRssMb!.toFixed(0)} MB)`,
    ],
    ["load generator", `CPU ${r.loadGeneratorCpuPercent.toFixed(0)}% of one core`],
    ...(r.postgresCpuPercent === null ? [] : [["postgres processes", `CPU ${r.postgresCpuPercent.toFixed(0)}% of one core`] as [string, string]]),
    [
      "machine",
      r.machineCpu
        ? `${r.machineCpu.busyPercent.toFixed(0)}% busy across ${r.machineCpu.cores} cores` +
          (r.serverCpuPercent === null ? "" : `; everything else: ${otherCpu(r).toFixed(0)}% of one core`) +
          (r.machineCpuBefore ? ` (${r.machineCpuBefore.busyPercent.toFixed(0)}% busy before the load)` : "")
        : "n/a",
    ],
    [
      "correctness",
      `${r.correctness.flowRunsCompleted}/${r.correctness.flowRunsCreated} flow runs COMPLETED` +
        (r.correctness.taskRunsCreated > 0 ? `, ${r.correctness.taskRunsCompleted}/${r.correctness.taskRunsCreated} task runs COMPLETED` : "") +
        (r.correctness.ok ? "  OK" : "  FAILED"),
    ],
    [
      "target (16 clients)",
      `>= ${target.transitionsPerSecond} transitions/s, p99 < ${target.p99Ms} ms: ` +
        (r.targetMet === null ? "n/a (not 16 clients)" : r.targetMet ? "met" : "NOT met"),
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const title = `Baton lifecycle benchmark: ${r.database}`;
  return [title, "-".repeat(title.length), ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join("\n");
}

/**
 * Machine CPU not spent by the server, the load generator or the server's PostgreSQL
 * backends, in percent of one core: other work on the machine, PostgreSQL's background
 * processes, and kernel time not charged to a process. Large values mean noisy figures.
 */
export function otherCpu(r: DatabaseResult): number {
  if (!r.machineCpu) return 0;
  return Math.max(0, r.machineCpu.busyPercent * r.machineCpu.cores - (r.serverCpuPercent ?? 0) - r.loadGeneratorCpuPercent - (r.postgresCpuPercent ?? 0));
}
