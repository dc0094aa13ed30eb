/**
 * Lifecycle benchmark: K concurrent HTTP clients create flow runs and drive each through
 * SCHEDULED -> PENDING -> RUNNING -> (task runs) -> COMPLETED against a Baton server in its own
 * process, on SQLite and on PostgreSQL, then check that every run ended COMPLETED.
 *
 *   npm run bench                                  # both databases, 16 clients, 20 s each
 *   npm run bench -- --db sqlite --clients 4 --tasks 3
 *
 * See bench/README.md for what is measured and the figures on our 2-core machine.
 */
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { prepareDatabase, serverBuild } from "./lib/bench-database.js";
import { parseCommandLine, parseOptions, USAGE, type BenchOptions, type DatabaseKind } from "./lib/args.js";
import { printProfile } from "./lib/cpuprofile.js";
import { createClient, type JsonClient } from "./lib/http-client.js";
import { LoadStats, runClients } from "./lib/load.js";
import { cpuSecondsBetween, sampleMachine, sampleProcess, sampleProcesses, type MachineSample, type ProcessSample } from "./lib/proc-stats.js";
import { formatSqlTiming } from "./lib/sql-report.js";
import { nodeStartCpuMs } from "./lib/machine-speed.js";
import { formatTable, latency, TARGETS, type DatabaseResult } from "./lib/report.js";
import { startServerChild } from "./lib/server-process.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** Busier than this (percent of all cores) before the load starts, figures will suffer. */
const IDLE_PERCENT = 10;

/** Past this many failed requests the server is plainly down; stop rather than spin. */
const MAX_HTTP_ERRORS = 1000;

const interrupt = new AbortController();
process.once("SIGINT", () => {
  process.stderr.write("\nInterrupted: finishing the runs in flight and cleaning up...\n");
  interrupt.abort();
});

interface Target {
  apiUrl: string;
  pid: number | undefined;
  description: string;
  /** PIDs of the PostgreSQL backends serving this server (found by application_name). */
  backendPids?: () => Promise<number[]>;
  /** Stops the child and removes its database; prints the CPU profile summary if one was taken. */
  release(): Promise<void>;
}

async function main(): Promise<number> {
  const options = parseCommandLine(parseOptions, USAGE);
  if (options === undefined) return 2;
  const results: DatabaseResult[] = [];
  const build = serverBuild();
  process.stderr.write(`server build: ${build}\n`);
  for (const database of options.databases) {
    if (interrupt.signal.aborted) break;
    const target = await acquireTarget(database, options);
    try {
      const result = await benchmark(database, target, options, options.server ? `external server; this checkout is ${build}` : build);
      results.push(result);
      process.stdout.write(`\n${formatTable(result)}\n`);
    } finally {
      await target.release();
    }
  }
  process.stdout.write(`\n${JSON.stringify({ benchmark: "baton-lifecycle", results })}\n`);
  const failed = results.some((r) => !r.correctness.ok || Object.keys(r.httpErrors).length > 0);
  return failed ? 1 : 0;
}

async function acquireTarget(database: DatabaseKind, options: BenchOptions): Promise<Target> {
  if (options.server) {
    const base = options.server.replace(/\/$/, "");
    return {
      apiUrl: base.endsWith("/api") ? base : `${base}/api`,
      pid: options.serverPid,
      description: `external ${base}${options.serverPid ? ` (pid ${options.serverPid})` : ""}`,
      release: async () => undefined,
    };
  }
  const prepared = prepareDatabase(database, options.postgresUrl);
  const { home, where, backendPids } = prepared;
  const env: Record<string, string> = { ...prepared.env, BATON_LOG_LEVEL: "silent" };
  if (options.pool !== undefined) env.BATON_DATABASE_POOL_SIZE = String(options.pool);
  const profileDir = options.cpuProf;
  const nodeArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const sqlTimingFile = join(home, "sql-timing.json");
  if (options.sqlTiming) {
    nodeArgs.push("--import", pathToFileURL(join(BENCH_DIR, "sql-timing.mjs")).href);
    env.BATON_BENCH_SQL_TIMING_FILE = sqlTimingFile;
  }
  const startedAt = Date.now();
  let child;
  try {
    child = await startServerChild({ launcher: options.launcher, env, nodeArgs });
  } catch (error) {
    await prepared.release().catch(() => undefined);
    throw error;
  }
  return {
    apiUrl: `${child.url}/api`,
    pid: child.pid,
    description: `child pid ${child.pid} (${options.launcher === "cli" ? "baton server start" : "bench/serve.mjs"}${profileDir ? ", --cpu-prof" : ""}), ${where}`,
    backendPids,
    release: async () => {
      await child.stop();
      if (options.sqlTiming) process.stdout.write(`\n${formatSqlTiming(sqlTimingFile)}\n`);
      await prepared.release();
      if (profileDir) printProfile(profileDir, child.pid, startedAt);
    },
  };
}

async function benchmark(database: DatabaseKind, target: Target, options: BenchOptions, build: string): Promise<DatabaseResult> {
  const speed = nodeStartCpuMs();
  let busyBefore = await machineBusyOver(1);
  const waitUntil = performance.now() + options.waitIdle * 1000;
  while (busyBefore && busyBefore.busyPercent > IDLE_PERCENT && performance.now() < waitUntil && !interrupt.signal.aborted) {
    process.stderr.write(`${database}: machine ${busyBefore.busyPercent.toFixed(0)}% busy; waiting for it to go quiet...\r`);
    busyBefore = await machineBusyOver(1);
  }
  if (busyBefore && busyBefore.busyPercent > IDLE_PERCENT) {
    process.stderr.write(
      `${database}: WARNING: the machine was ${busyBefore.busyPercent.toFixed(0)}% busy before the benchmark started; other processes will lower the figures\n`,
    );
  }
  const client = createClient(target.apiUrl, options.clients, options.http);
  try {
    const flow = await client.post("/flows/", { name: `bench-lifecycle-${process.pid}-${Date.now().toString(36)}-${database}` });
    if (flow.status < 200 || flow.status > 299) throw new Error(`POST /flows/ answered HTTP ${flow.status}: ${flow.text}`);
    const flowId = (flow.body as { id: string }).id;

    const stats = new LoadStats();
    const what = options.runs === undefined ? `${options.duration} s` : `${options.runs} runs`;
    process.stderr.write(
      `${database}: ${target.description}\n${database}: ${options.clients} clients, ${options.tasks} task runs per flow run; warming up ${options.warmup} s, then measuring ${what}\n`,
    );
    const clients = runClients(client, { clients: options.clients, tasks: options.tasks, flowId, runs: options.runs }, stats);
    const watchdog = setInterval(() => {
      if (countOf(stats.httpErrors) > MAX_HTTP_ERRORS) stats.phase = "drain";
    }, 100);
    try {
      await pause(options.warmup);
      const backends = (await target.backendPids?.()) ?? [];
      const start = { at: performance.now(), server: sample(target.pid), self: process.cpuUsage(), machine: sampleMachine(), postgres: sampleProcesses(backends) };
      if (stats.phase === "warmup") stats.phase = "measure";
      if (options.runs === undefined) {
        await pause(options.duration);
        stats.phase = "drain";
      } else {
        const stop = (): void => void (stats.phase = "drain");
        if (interrupt.signal.aborted) stop();
        interrupt.signal.addEventListener("abort", stop);
        await clients;
        interrupt.signal.removeEventListener("abort", stop);
      }
      const seconds = (performance.now() - start.at) / 1000;
      const end = { server: sample(target.pid), self: process.cpuUsage(start.self), machine: sampleMachine(), postgres: sampleProcesses(backends) };
      stats.phase = "drain";
      await clients;
      const correctness = await checkCorrectness(client, flowId, stats);
      const cpu: CpuFigures = {
        server: start.server && end.server ? (100 * (end.server.cpuSeconds - start.server.cpuSeconds)) / seconds : null,
        serverEnd: end.server,
        loadGenerator: (end.self.user + end.self.system) / 1e4 / seconds,
        postgres: end.postgres.size > 0 ? (100 * cpuSecondsBetween(start.postgres, end.postgres)) / seconds : null,
        machine: machineBusy(start.machine, end.machine),
        machineBefore: busyBefore,
      };
      return result(database, target, options, build, speed, stats, seconds, cpu, correctness);
    } finally {
      clearInterval(watchdog);
      stats.phase = "drain";
      await clients;
    }
  } finally {
    client.close();
  }
}

function result(
  database: DatabaseKind,
  target: Target,
  options: BenchOptions,
  build: string,
  speed: number | null,
  stats: LoadStats,
  seconds: number,
  cpu: CpuFigures,
  correctness: DatabaseResult["correctness"],
): DatabaseResult {
  const setStateMs = latency(stats.setStateMs);
  const transitionsPerSecond = stats.accepted / seconds;
  const goal = TARGETS[database];
  const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
  return {
    database,
    server: target.description,
    build,
    nodeStartCpuMs: speed,
    clients: options.clients,
    tasksPerRun: options.tasks,
    seconds: round(seconds, 3),
    runsCompleted: stats.runsCompleted,
    runsPerSecond: round(stats.runsCompleted / seconds, 1),
    acceptedTransitions: stats.accepted,
    transitionsPerSecond: round(transitionsPerSecond, 1),
    requestsPerSecond: round(stats.requests / seconds, 1),
    nonAccept: Object.fromEntries(stats.nonAccept),
    httpErrors: Object.fromEntries(stats.httpErrors),
    setStateMs: roundLatency(setStateMs),
    createMs: roundLatency(latency(stats.createMs)),
    serverCpuPercent: cpu.server === null ? null : round(cpu.server, 1),
    serverRssMb: cpu.serverEnd ? mb(cpu.serverEnd.rssBytes) : null,
    serverPeakRssMb: cpu.serverEnd ? mb(cpu.serverEnd.peakRssBytes) : null,
    loadGeneratorCpuPercent: round(cpu.loadGenerator, 1),
    postgresCpuPercent: cpu.postgres === null ? null : round(cpu.postgres, 1),
    machineCpu: cpu.machine,
    machineCpuBefore: cpu.machineBefore,
    correctness,
    targetMet: options.clients === 16 ? transitionsPerSecond >= goal.transitionsPerSecond && setStateMs.p99 < goal.p99Ms : null,
  };
}

/** Every flow run (and task run) this benchmark created must have ended COMPLETED. */
async function checkCorrectness(client: JsonClient, flowId: string, stats: LoadStats): Promise<DatabaseResult["correctness"]> {
  const flows = { id: { any_: [flowId] } };
  const completed = { state: { type: { any_: ["COMPLETED"] } } };
  const count = async (path: string, body: unknown): Promise<number> => {
    const response = await client.post(path, body);
    if (response.status !== 200 || typeof response.body !== "number") {
      throw new Error(`POST ${path} answered HTTP ${response.status}: ${response.text}`);
    }
    return response.body;
  };
  const flowRunsTotal = await count("/flow_runs/count", { flows });
  const flowRunsCompleted = await count("/flow_runs/count", { flows, flow_runs: completed });
  const taskRunsTotal = await count("/task_runs/count", { flows });
  const taskRunsCompleted = await count("/task_runs/count", { flows, task_runs: completed });
  const ok =
    flowRunsTotal === stats.flowRunsCreated &&
    flowRunsCompleted === stats.flowRunsCreated &&
    taskRunsTotal === stats.taskRunsCreated &&
    taskRunsCompleted === stats.taskRunsCreated;
  if (!ok) {
    process.stderr.write(
      `correctness: created ${stats.flowRunsCreated} flow runs (server has ${flowRunsTotal}, ${flowRunsCompleted} COMPLETED), ` +
        `${stats.taskRunsCreated} task runs (server has ${taskRunsTotal}, ${taskRunsCompleted} COMPLETED), ${stats.abandoned} lifecycles abandoned\n`,
    );
  }
  for (const line of stats.errorSamples) process.stderr.write(`error sample: ${line}\n`);
  return { flowRunsCreated: stats.flowRunsCreated, flowRunsCompleted, taskRunsCreated: stats.taskRunsCreated, taskRunsCompleted, ok };
}


/** Summarises the profile the child wrote (the newest for its PID written since it started). */
async function pause(seconds: number): Promise<void> {
  await sleep(seconds * 1000, undefined, { signal: interrupt.signal }).catch(() => undefined);
}

interface CpuFigures {
  /** Percent of one core over the measured window. */
  server: number | null;
  serverEnd: ProcessSample | undefined;
  loadGenerator: number;
  postgres: number | null;
  machine: DatabaseResult["machineCpu"];
  machineBefore: DatabaseResult["machineCpu"];
}


function machineBusy(start: MachineSample | undefined, end: MachineSample | undefined): DatabaseResult["machineCpu"] {
  if (!start || !end || end.totalTicks === start.totalTicks) return null;
  return { busyPercent: round((100 * (end.busyTicks - start.busyTicks)) / (end.totalTicks - start.totalTicks), 1), cores: end.cores };
}


async function machineBusyOver(seconds: number): Promise<DatabaseResult["machineCpu"]> {
  const start = sampleMachine();
  await pause(seconds);
  return machineBusy(start, sampleMachine());
}

function sample(pid: number | undefined): ProcessSample | undefined {
  return pid === undefined ? undefined : sampleProcess(pid);
}

function countOf(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundLatency(l: ReturnType<typeof latency>): ReturnType<typeof latency> {
  return { count: l.count, p50: round(l.p50, 2), p95: round(l.p95, 2), p99: round(l.p99, 2), max: round(l.max, 2) };
}


process.exitCode = await main();
