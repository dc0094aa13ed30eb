/**
 * Sustained-load benchmark, the seeds' workload: flow runs of a deployment arrive at a steady
 * rate, each lasting a while (7 per second for 30 s each: about 210 at once), for minutes,
 * executed by one process worker (a process per run), then by `serve()` (the runs in one
 * process) at ten times the rate. It prints start latency (scheduled time to RUNNING), runs
 * lost or executed twice, the peak number of runs at once, and CPU and memory of the server,
 * the worker and the flow run processes.
 *
 *   npm run bench:sustained                                   # both modes, both databases, 5 min each
 *   npm run bench:sustained -- --mode worker --db sqlite --duration 60
 *
 * See bench/README.md for the figures on our 2-core machine.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_POSTGRES_URL, prepareDatabase, serverBuild } from "./lib/bench-database.js";
import { createClient, ok, type JsonClient } from "./lib/http-client.js";
import { extraCaCerts, extraCaCertsEnv, nodeStartCpuMs, parseExtraCaCerts } from "./lib/machine-speed.js";
import { sampleMachine, sampleProcess, sampleProcesses, cpuSecondsBetween, type MachineSample } from "./lib/proc-stats.js";
import { latency, type Latency } from "./lib/report.js";
import { formatSqlTiming } from "./lib/sql-report.js";
import { startServerChild } from "./lib/server-process.js";
import { nonNegativeNumber, parseCommandLine, parseDatabases, positiveInt, positiveNumber, UsageError, type DatabaseKind } from "./lib/args.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = dirname(BENCH_DIR);
const BATON_BIN = join(REPO_ROOT, "packages/cli/dist/bin.js");

type Mode = "worker" | "serve";

interface Options {
  modes: Mode[];
  databases: DatabaseKind[];
  /** Seconds during which runs arrive. */
  duration: number;
  runSeconds: number;
  workerRate: number;
  serveRate: number;
  /** How long before its scheduled time each run is created (0: runs are due as they arrive). */
  leadSeconds: number;
  /** The worker's --query-seconds and serve()'s pollIntervalSeconds. */
  pollSeconds: number;
  prefetchSeconds: number;
  /** Concurrency limit of the worker's work pool. */
  poolLimit: number;
  /** `off`: the worker's run processes get NODE_EXTRA_CA_CERTS="" (the deployment's job variables). */
  extraCaCerts: "inherit" | "off";
  postgresUrl: string;
  /** Run the server under `node --cpu-prof` into this directory. */
  cpuProf: string | undefined;
  /** Time each SQL statement in the server (bench/sql-timing.mjs) and print the totals. */
  sqlTiming: boolean;
}

const USAGE = `Usage: npm run bench:sustained -- [options]

  --mode worker|serve|both   who executes the runs (default both: the worker, then serve())
  --db sqlite|postgres|both  databases (default both)
  --duration S               seconds during which runs arrive (default 300)
  --run-seconds S            how long each run lasts (default 30)
  --worker-rate N            runs arriving per second for the worker (default 7)
  --serve-rate N             runs arriving per second for serve() (default 70)
  --lead-seconds S           create each run S seconds before its scheduled time (default 15:
                             scheduled runs, which the scheduler service creates ahead and a
                             worker claims up to --prefetch-seconds early; 0: each run is due
                             the moment it is created, as \`deployment run\` makes them)
  --poll-seconds S           worker --query-seconds / serve() poll interval (default 1)
  --prefetch-seconds S       worker --prefetch-seconds / serve() prefetchSeconds (default 10)
  --pool-limit N             concurrency limit of the worker's work pool (default 320: ~210 runs
                             RUNNING at once plus ~70 claimed up to 10 s early, with headroom)
  --extra-ca-certs inherit|off
                             off: the deployment's job variables set NODE_EXTRA_CA_CERTS to "" for
                             the run processes, which Node.js 20 otherwise parses at every start
                             (default inherit: the environment as it is)
  --sql-timing               time each SQL statement in the server and print the totals
  --cpu-prof DIR             run the server under node --cpu-prof (summarise with bench/profile-summary.ts)
  --pg-url URL               PostgreSQL (default BATON_BENCH_POSTGRES_URL or ${DEFAULT_POSTGRES_URL})
`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      mode: { type: "string", default: "both" },
      db: { type: "string", default: "both" },
      duration: { type: "string", default: "300" },
      "run-seconds": { type: "string", default: "30" },
      "worker-rate": { type: "string", default: "7" },
      "serve-rate": { type: "string", default: "70" },
      "lead-seconds": { type: "string", default: "15" },
      "poll-seconds": { type: "string", default: "1" },
      "prefetch-seconds": { type: "string", default: "10" },
      "pool-limit": { type: "string", default: "320" },
      "extra-ca-certs": { type: "string", default: "inherit" },
      "pg-url": { type: "string" },
      "cpu-prof": { type: "string" },
      "sql-timing": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  const modes: Record<string, Mode[]> = { worker: ["worker"], serve: ["serve"], both: ["worker", "serve"] };
  const mode = modes[values.mode];
  if (!mode) throw new UsageError(`--mode must be worker, serve or both, not ${values.mode}`);
  return {
    modes: mode,
    databases: parseDatabases(values.db),
    duration: positiveNumber("--duration", values.duration),
    runSeconds: nonNegativeNumber("--run-seconds", values["run-seconds"]),
    workerRate: positiveNumber("--worker-rate", values["worker-rate"], "a positive number of runs per second"),
    serveRate: positiveNumber("--serve-rate", values["serve-rate"], "a positive number of runs per second"),
    leadSeconds: nonNegativeNumber("--lead-seconds", values["lead-seconds"]),
    pollSeconds: positiveNumber("--poll-seconds", values["poll-seconds"]),
    prefetchSeconds: nonNegativeNumber("--prefetch-seconds", values["prefetch-seconds"]),
    poolLimit: positiveInt("--pool-limit", values["pool-limit"]),
    extraCaCerts: parseExtraCaCerts(values["extra-ca-certs"]),
    cpuProf: values["cpu-prof"],
    sqlTiming: values["sql-timing"],
    postgresUrl: values["pg-url"] ?? process.env.BATON_BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL,
  };
}

/** The executor of the runs: the worker process or the serve() process, and its flow run processes. */
interface Executor {
  pid: number;
  deploymentId: string;
  stop(): Promise<void>;
}

interface Sample {
  at: number;
  /** Flow run processes alive (children of the worker). */
  processes: number;
  processesRssBytes: number;
  processesAnonBytes: number;
  serverRssBytes: number;
  executorRssBytes: number;
}

interface Result {
  mode: Mode;
  database: DatabaseKind;
  build: string;
  /** CPU ms of `node -e 0` just before this benchmark: how fast the machine was. */
  nodeStartCpuMs: number | null;
  /** The same with NODE_EXTRA_CA_CERTS="", when the environment sets it (null when it does not). */
  nodeStartCpuMsWithoutExtraCaCerts: number | null;
  /** NODE_EXTRA_CA_CERTS of the environment, and what the run processes got. */
  extraCaCerts: { environment: string | null; runProcesses: "inherit" | "off" };
  rate: number;
  runSeconds: number;
  leadSeconds: number;
  poolLimit: number;
  arrivalSeconds: number;
  created: number;
  createErrors: number;
  completed: number;
  notCompleted: Record<string, number>;
  lost: number;
  executedTwice: number;
  /** Completed runs per second over the arrival window (runs that ended inside it). */
  completedPerSecond: number;
  startLatencyMs: Latency;
  peakRunning: number;
  peakProcesses: number | null;
  cpuPercent: { server: number; executor: number; runProcesses: number | null; postgres: number | null; machine: number | null; cores: number };
  memoryMb: { serverPeak: number; executorPeak: number; runProcessesPeak: number | null; perRunProcess: number | null; runProcessesPrivatePeak: number | null };
  ok: boolean;
  targetMet: boolean;
}

const interrupt = new AbortController();
process.once("SIGINT", () => {
  process.stderr.write("\nInterrupted: stopping arrivals, waiting for the runs in flight...\n");
  interrupt.abort();
});

async function main(): Promise<number> {
  const options = parseCommandLine(parseOptions, USAGE);
  if (options === undefined) return 2;
  const build = serverBuild();
  const results: Result[] = [];
  for (const database of options.databases) {
    for (const mode of options.modes) {
      if (interrupt.signal.aborted) break;
      const result = await benchmark(mode, database, options, build);
      results.push(result);
      process.stdout.write(`\n${formatResult(result)}\n`);
    }
  }
  process.stdout.write(`\n${JSON.stringify({ benchmark: "baton-sustained", results })}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

async function benchmark(mode: Mode, database: DatabaseKind, options: Options, build: string): Promise<Result> {
  const rate = mode === "worker" ? options.workerRate : options.serveRate;
  const speed = nodeStartCpuMs();
  const speedWithoutCerts = extraCaCerts() === undefined ? null : nodeStartCpuMs(10, { NODE_EXTRA_CA_CERTS: "" });
  const prepared = prepareDatabase(database, options.postgresUrl);
  const recorder = join(prepared.home, "executions.log");
  writeFileSync(recorder, "");
  const sqlTimingFile = join(prepared.home, "sql-timing.json");
  const nodeArgs = options.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProf] : [];
  if (options.sqlTiming) nodeArgs.push("--import", pathToFileURL(join(BENCH_DIR, "sql-timing.mjs")).href);
  const server = await startServerChild({
    launcher: "serve",
    env: { ...prepared.env, BATON_LOG_LEVEL: "silent", ...(options.sqlTiming ? { BATON_BENCH_SQL_TIMING_FILE: sqlTimingFile } : {}) },
    nodeArgs,
  });
  const apiUrl = `${server.url}/api`;
  const client = createClient(apiUrl, 64, "node");
  let executor: Executor | undefined;
  try {
    process.stderr.write(`${mode} on ${database}: server pid ${server.pid}, ${prepared.where}\n`);
    // Logs still go to the API, as they would for users; only the console echo is off.
    const childEnv = { BATON_API_URL: apiUrl, BATON_BENCH_RECORDER: recorder, BATON_CONSOLE_LOGS: "false" };
    executor = mode === "worker" ? await startWorker(client, options, childEnv) : await startServe(client, options, childEnv);
    const backends = (await prepared.backendPids?.()) ?? [];
    process.stderr.write(
      `${mode} on ${database}: ${rate} runs/s of ${options.runSeconds} s for ${options.duration} s, created ${options.leadSeconds} s before they are due\n`,
    );

    const samples: Sample[] = [];
    const start = {
      server: sampleProcess(server.pid),
      executor: sampleProcess(executor.pid),
      machine: sampleMachine(),
      postgres: sampleProcesses(backends),
      runProcesses: runProcessCpu(executor.pid),
    };
    const sampler = setInterval(() => samples.push(sampleOnce(server.pid, executor!.pid)), 1000);
    const arrivals = await arrive(client, executor.deploymentId, rate, options);
    const arrivalSeconds = options.duration;
    const end = {
      server: sampleProcess(server.pid),
      executor: sampleProcess(executor.pid),
      machine: sampleMachine(),
      postgres: sampleProcesses(backends),
      runProcesses: runProcessCpu(executor.pid),
    };
    process.stderr.write(`${mode} on ${database}: ${arrivals.ids.length} runs created; waiting for them to finish\n`);
    await waitForFinished(client, executor.deploymentId, options.runSeconds + options.leadSeconds + 120);
    clearInterval(sampler);
    const runs = await readRuns(client, executor.deploymentId);
    const executions = countExecutions(recorder);

    const byId = new Map(runs.map((r) => [r.id, r]));
    const notCompleted: Record<string, number> = {};
    let completed = 0;
    let lost = 0;
    for (const id of arrivals.ids) {
      const run = byId.get(id);
      const state = run?.state_type ?? "MISSING";
      if (state === "COMPLETED") completed += 1;
      else notCompleted[state] = (notCompleted[state] ?? 0) + 1;
      if (!run || state !== "COMPLETED" || (executions.get(id) ?? 0) === 0) lost += 1;
    }
    await explainFailures(client, arrivals.ids.filter((id) => byId.get(id)?.state_type !== "COMPLETED"));
    const executedTwice = [...executions.values()].filter((n) => n > 1).length + runs.filter((r) => r.run_count > 1).length;
    const startLatencies = runs
      .filter((r) => r.start_time && r.expected_start_time)
      .map((r) => Date.parse(r.start_time!) - Date.parse(r.expected_start_time!));
    // Steady state: from when the first runs can have finished until arrivals stop.
    const windowStart = arrivals.startedAt + (options.runSeconds + options.leadSeconds) * 1000;
    const windowEnd = arrivals.startedAt + arrivalSeconds * 1000;
    const windowSeconds = Math.max(1, (windowEnd - windowStart) / 1000);
    const completedInWindow = runs.filter((r) => {
      const ended = r.state_type === "COMPLETED" && r.end_time ? Date.parse(r.end_time) : NaN;
      return ended >= windowStart && ended < windowEnd;
    }).length;
    const completedPerSecond = completedInWindow / windowSeconds;

    const seconds = arrivalSeconds;
    const cpu = (a: { cpuSeconds: number } | undefined, b: { cpuSeconds: number } | undefined): number =>
      a && b ? round((100 * (b.cpuSeconds - a.cpuSeconds)) / seconds, 1) : 0;
    const machine = machinePercent(start.machine, end.machine);
    const peak = (pick: (s: Sample) => number): number => samples.reduce((m, s) => Math.max(m, pick(s)), 0);
    const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1);
    const peakProcesses = mode === "worker" ? peak((s) => s.processes) : null;
    const processesRss = mode === "worker" ? peak((s) => s.processesRssBytes) : null;
    const processesAnon = mode === "worker" ? peak((s) => s.processesAnonBytes) : null;
    const perProcess = samples.filter((s) => s.processes > 0).map((s) => s.processesRssBytes / s.processes);
    const startLatencyMs = latency(startLatencies);
    const ok = arrivals.errors === 0 && lost === 0 && executedTwice === 0 && completed === arrivals.ids.length;
    return {
      mode,
      database,
      build,
      nodeStartCpuMs: speed,
      nodeStartCpuMsWithoutExtraCaCerts: speedWithoutCerts,
      extraCaCerts: { environment: extraCaCerts() ?? null, runProcesses: options.extraCaCerts },
      rate,
      runSeconds: options.runSeconds,
      leadSeconds: options.leadSeconds,
      poolLimit: options.poolLimit,
      arrivalSeconds,
      created: arrivals.ids.length,
      createErrors: arrivals.errors,
      completed,
      notCompleted,
      lost,
      executedTwice,
      completedPerSecond: round(completedPerSecond, 1),
      startLatencyMs: { ...startLatencyMs, p50: round(startLatencyMs.p50, 0), p95: round(startLatencyMs.p95, 0), p99: round(startLatencyMs.p99, 0) },
      peakRunning: peakConcurrency(runs),
      peakProcesses,
      cpuPercent: {
        server: cpu(start.server, end.server),
        executor: cpu(start.executor, end.executor),
        runProcesses: mode === "worker" ? round((100 * (end.runProcesses - start.runProcesses)) / seconds, 1) : null,
        postgres: backends.length > 0 ? round((100 * cpuSecondsBetween(start.postgres, end.postgres)) / seconds, 1) : null,
        machine: machine?.busyPercent ?? null,
        cores: machine?.cores ?? 0,
      },
      memoryMb: {
        serverPeak: mb(end.server?.peakRssBytes ?? peak((s) => s.serverRssBytes)),
        executorPeak: mb(end.executor?.peakRssBytes ?? peak((s) => s.executorRssBytes)),
        runProcessesPeak: processesRss === null ? null : mb(processesRss),
        perRunProcess: perProcess.length > 0 ? mb(perProcess.reduce((a, b) => a + b, 0) / perProcess.length) : null,
        runProcessesPrivatePeak: processesAnon === null ? null : mb(processesAnon),
      },
      ok,
      // serve() holds the rate when runs finish as fast as they arrive (within 5%).
      targetMet: ok && (mode === "worker" ? startLatencyMs.p95 < 1000 : completedPerSecond >= 0.95 * rate),
    };
  } finally {
    await executor?.stop().catch((error: unknown) => process.stderr.write(`stopping the ${mode}: ${String(error)}\n`));
    client.close();
    await server.stop();
    if (options.sqlTiming) process.stdout.write(`\n${formatSqlTiming(sqlTimingFile)}\n`);
    await prepared.release();
  }
}

/** A process work pool and a deployment of the sleeper flow in it, and one worker polling it. */
async function startWorker(client: JsonClient, options: Options, env: Record<string, string>): Promise<Executor> {
  const flow = await ok(client.post("/flows/", { name: "bench-sleeper" }));
  await ok(client.post("/work_pools/", { name: "bench", type: "process", concurrency_limit: options.poolLimit }));
  const deployment = await ok(
    client.post("/deployments/", {
      name: "bench-worker",
      flow_id: (flow as { id: string }).id,
      work_pool_name: "bench",
      entrypoint: "bench/flows/sleeper.mjs:sleeper",
      path: REPO_ROOT,
      job_variables: { env: extraCaCertsEnv(options.extraCaCerts) },
    }),
  );
  const args = [BATON_BIN, "worker", "start", "--pool", "bench", "--name", "bench-worker"];
  args.push("--query-seconds", String(options.pollSeconds), "--prefetch-seconds", String(options.prefetchSeconds));
  const child = spawnChild(args, env);
  // The worker is ready once it has polled: its pool turns READY.
  await until(async () => ((await ok(client.post("/work_pools/filter", { work_pools: { name: { any_: ["bench"] } } }))) as Array<{ status: string }>)[0]?.status === "READY", 30);
  return { pid: child.pid!, deploymentId: (deployment as { id: string }).id, stop: () => stopChild(child, 60) };
}

/** A process serving the sleeper flow with serve(); its deployment is the one it registers. */
async function startServe(client: JsonClient, options: Options, env: Record<string, string>): Promise<Executor> {
  const child = spawnChild([join(BENCH_DIR, "flows/serve-sleeper.mjs")], {
    ...env,
    BATON_BENCH_POLL_SECONDS: String(options.pollSeconds),
    BATON_BENCH_PREFETCH_SECONDS: String(options.prefetchSeconds),
  });
  let deploymentId: string | undefined;
  await until(async () => {
    const found = (await ok(client.post("/deployments/filter", { deployments: { name: { any_: ["bench-serve"] } } }))) as Array<{ id: string }>;
    deploymentId = found[0]?.id;
    return deploymentId !== undefined;
  }, 30);
  return { pid: child.pid!, deploymentId: deploymentId!, stop: () => stopChild(child, 60) };
}

function spawnChild(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => process.stderr.write(`[${args[1] === "worker" ? "worker" : "serve"}] ${chunk}`));
  return child;
}

async function stopChild(child: ChildProcess, graceSeconds: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceSeconds * 1000);
  await exited;
  clearTimeout(timer);
}

/**
 * Creates runs at `rate` per second for `options.duration` seconds, each at its slot on a
 * fixed timetable (so a slow answer does not delay the next arrival), scheduled
 * `leadSeconds` after its slot.
 */
async function arrive(client: JsonClient, deploymentId: string, rate: number, options: Options): Promise<{ ids: string[]; errors: number; startedAt: number }> {
  const total = Math.round(rate * options.duration);
  const ids: string[] = [];
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  const t0 = performance.now();
  for (let i = 0; i < total && !interrupt.signal.aborted; i++) {
    const slot = t0 + (i * 1000) / rate;
    const wait = slot - performance.now();
    if (wait > 1) await sleep(wait);
    const scheduled = new Date(Date.now() + options.leadSeconds * 1000).toISOString();
    const request = client
      .post(`/deployments/${deploymentId}/create_flow_run`, {
        parameters: { seconds: options.runSeconds },
        state: { type: "SCHEDULED", name: "Scheduled", state_details: { scheduled_time: scheduled } },
      })
      .then(
        (response) => {
          if (response.status === 201 || response.status === 200) ids.push((response.body as { id: string }).id);
          else {
            errors += 1;
            if (errors <= 5) process.stderr.write(`create_flow_run answered HTTP ${response.status}: ${response.text.slice(0, 300)}\n`);
          }
        },
        (error: unknown) => {
          errors += 1;
          if (errors <= 5) process.stderr.write(`create_flow_run failed: ${String(error)}\n`);
        },
      )
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  }
  await Promise.all(inFlight);
  return { ids, errors, startedAt };
}

const TERMINAL = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"];

/**
 * Waits until every run of the deployment has finished. An executor that falls behind still
 * gets to finish its backlog: this gives up only once no run has finished for `stallSeconds`.
 */
async function waitForFinished(client: JsonClient, deploymentId: string, stallSeconds: number): Promise<void> {
  let lastOpen = Infinity;
  let lastProgress = performance.now();
  for (;;) {
    const open = (await ok(
      client.post("/flow_runs/count", { deployments: { id: { any_: [deploymentId] } }, flow_runs: { state: { type: { not_any_: TERMINAL } } } }),
    )) as number;
    if (open === 0) return;
    if (open < lastOpen) {
      lastOpen = open;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > stallSeconds * 1000) {
      process.stderr.write(`${open} runs still not finished, none finished for ${stallSeconds} s; counting them as lost\n`);
      return;
    }
    await sleep(2000);
  }
}

interface RunRow {
  id: string;
  state_type: string | null;
  run_count: number;
  start_time: string | null;
  end_time: string | null;
  expected_start_time: string | null;
}

async function readRuns(client: JsonClient, deploymentId: string): Promise<RunRow[]> {
  const runs: RunRow[] = [];
  for (let offset = 0; ; offset += 200) {
    const page = (await ok(
      client.post("/flow_runs/filter", { deployments: { id: { any_: [deploymentId] } }, sort: "ID_DESC", limit: 200, offset }),
    )) as RunRow[];
    runs.push(...page);
    if (page.length < 200) return runs;
  }
}

/** For a few runs that did not complete: their last state's message and their warning logs. */
async function explainFailures(client: JsonClient, ids: string[]): Promise<void> {
  for (const id of ids.slice(0, 3)) {
    const response = await client.post("/flow_runs/filter", { flow_runs: { id: { any_: [id] } } });
    const run = (response.body as Array<{ name: string; state?: { type: string; message?: string | null } | null }> | undefined)?.[0];
    process.stderr.write(`run ${id} (${run?.name ?? "?"}) ended ${run?.state?.type ?? "?"}: ${run?.state?.message ?? ""}\n`);
    const logs = await client.post("/logs/filter", { logs: { flow_run_id: { any_: [id] }, level: { ge_: 30 } }, sort: "TIMESTAMP_ASC", limit: 20 });
    for (const log of (logs.body as Array<{ message: string }> | undefined) ?? []) process.stderr.write(`  log: ${log.message.slice(0, 500)}\n`);
  }
}

/** The sleeper flow writes one line per execution: `<run id> <ms>`. */
function countExecutions(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const id = line.split(" ")[0];
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Most runs RUNNING at one instant, from their start and end times. */
function peakConcurrency(runs: RunRow[]): number {
  const edges: Array<[number, number]> = [];
  for (const r of runs) {
    if (!r.start_time) continue;
    edges.push([Date.parse(r.start_time), 1]);
    if (r.end_time) edges.push([Date.parse(r.end_time), -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // gone between the listing and the read
    }
  }
  return pids;
}

/**
 * CPU seconds of the worker's flow run processes: the live ones' own time plus what the
 * worker has collected from its children that exited (cutime + cstime of the worker).
 */
function runProcessCpu(workerPid: number): number {
  let seconds = 0;
  for (const pid of childPids(workerPid)) seconds += sampleProcess(pid)?.cpuSeconds ?? 0;
  // Nothing more once the worker is gone.
  return seconds + (sampleProcess(workerPid)?.reapedChildrenCpuSeconds ?? 0);
}

function sampleOnce(serverPid: number, executorPid: number): Sample {
  const children = childPids(executorPid);
  let rss = 0;
  let anon = 0;
  for (const pid of children) {
    const sample = sampleProcess(pid);
    rss += sample?.rssBytes ?? 0;
    anon += sample?.anonBytes ?? 0;
  }
  return {
    at: Date.now(),
    processes: children.length,
    processesRssBytes: rss,
    processesAnonBytes: anon,
    serverRssBytes: sampleProcess(serverPid)?.rssBytes ?? 0,
    executorRssBytes: sampleProcess(executorPid)?.rssBytes ?? 0,
  };
}

function machinePercent(start: MachineSample | undefined, end: MachineSample | undefined): { busyPercent: number; cores: number } | null {
  if (!start || !end || end.totalTicks === start.totalTicks) return null;
  return { busyPercent: round((100 * (end.busyTicks - start.busyTicks)) / (end.totalTicks - start.totalTicks), 1), cores: end.cores };
}

async function until(check: () => Promise<boolean>, seconds: number): Promise<void> {
  const deadline = performance.now() + seconds * 1000;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not ready after ${seconds} s`);
    await sleep(200);
  }
}

function formatResult(r: Result): string {
  const lat = r.startLatencyMs;
  const pct = (n: number | null): string => (n === null ? "n/a" : `${n.toFixed(0)}%`);
  const rows: Array<[string, string]> = [
    ["build", r.build],
    ["machine speed", r.nodeStartCpuMs === null ? "n/a" : `node -e 0 costs ${r.nodeStartCpuMs} ms of CPU (mean of 10; lower is faster)` + (r.nodeStartCpuMsWithoutExtraCaCerts === null ? "" : `, ${r.nodeStartCpuMsWithoutExtraCaCerts} ms with NODE_EXTRA_CA_CERTS=""`)],
    ...(r.extraCaCerts.environment === null || r.mode !== "worker"
      ? []
      : [["NODE_EXTRA_CA_CERTS", `${r.extraCaCerts.environment}; run processes: ${r.extraCaCerts.runProcesses === "off" ? 'set to "" (job variables)' : "inherited"}`] as [string, string]]),
    ["workload", `${r.rate} runs/s for ${r.arrivalSeconds} s, each ${r.runSeconds} s, created ${r.leadSeconds} s before due` + (r.mode === "worker" ? `, pool limit ${r.poolLimit}` : "")],
    ["runs created", `${r.created}${r.createErrors ? `  (${r.createErrors} create errors)` : ""}`],
    ["runs COMPLETED", `${r.completed}${Object.keys(r.notCompleted).length ? `  (not: ${JSON.stringify(r.notCompleted)})` : ""}`],
    ["lost / executed twice", `${r.lost} / ${r.executedTwice}`],
    ["completed runs/s (steady state)", r.completedPerSecond.toFixed(1)],
    ["start latency ms (due -> RUNNING)", `p50 ${lat.p50}  p95 ${lat.p95}  p99 ${lat.p99}  max ${lat.max.toFixed(0)}  (n=${lat.count})`],
    ["peak runs RUNNING at once", String(r.peakRunning)],
    ...(r.peakProcesses === null ? [] : [["peak flow run processes", String(r.peakProcesses)] as [string, string]]),
    [
      "CPU (% of one core)",
      `server ${pct(r.cpuPercent.server)}, ${r.mode} ${pct(r.cpuPercent.executor)}` +
        (r.cpuPercent.runProcesses === null ? "" : `, flow run processes ${pct(r.cpuPercent.runProcesses)}`) +
        (r.cpuPercent.postgres === null ? "" : `, postgres ${pct(r.cpuPercent.postgres)}`) +
        (r.cpuPercent.machine === null ? "" : `; machine ${r.cpuPercent.machine.toFixed(0)}% busy across ${r.cpuPercent.cores} cores`),
    ],
    [
      "memory (peak RSS)",
      `server ${r.memoryMb.serverPeak} MB, ${r.mode} ${r.memoryMb.executorPeak} MB` +
        (r.memoryMb.runProcessesPeak === null ? "" : `, flow run processes ${r.memoryMb.runProcessesPeak} MB in all (${r.memoryMb.perRunProcess} MB each; ` +
            `private memory ${r.memoryMb.runProcessesPrivatePeak} MB in all, the rest is shared code)`),
    ],
    ["target", r.mode === "worker" ? `p95 start latency < 1000 ms, nothing lost: ${r.targetMet ? "met" : "NOT met"}` : `holds ${r.rate} runs/s, nothing lost: ${r.targetMet ? "met" : "NOT met"}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const title = `Baton sustained load: ${r.mode} on ${r.database}`;
  return [title, "-".repeat(title.length), ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join("\n");
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

process.exitCode = await main();
