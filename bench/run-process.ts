/**
 * What one flow run process costs: the CPU of `baton flow-run execute ID`, the command a
 * process worker starts for every run, measured one process at a time on an otherwise idle
 * server. The sustained benchmark's worker figures are mostly this number times the arrival
 * rate, so this is where a change to a run process's start-up is measured first.
 *
 *   npm run bench:run-process                         # 20 runs that return at once, SQLite
 *   npm run bench:run-process -- --runs 40 --node-flag=--jitless
 *   npm run bench:run-process -- --cpu-prof /tmp/runprof   # one .cpuprofile per run process
 *   npm run bench:run-process -- --against /tmp/other-checkout   # alternate with another build
 *
 * See bench/README.md for the figures.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_POSTGRES_URL, prepareDatabase } from "./lib/bench-database.js";
import { createClient, ok, type JsonClient } from "./lib/http-client.js";
import { extraCaCerts, extraCaCertsEnv, nodeStartCpuMs, parseExtraCaCerts } from "./lib/machine-speed.js";
import { sampleProcess } from "./lib/proc-stats.js";
import { startServerChild } from "./lib/server-process.js";
import { nonNegativeNumber, parseCommandLine, parseDatabases, positiveInt, UsageError, type DatabaseKind } from "./lib/args.js";

const REPO_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

const USAGE = `Usage: npm run bench:run-process -- [options]

  --db sqlite|postgres|both   database of the server (default sqlite)
  --runs N                    run processes to measure, one after the other (default 20)
  --warmup N                  run processes started first and not counted (default 2)
  --run-seconds S             how long each run sleeps (default 0: it returns at once)
  --node-flag FLAG            an extra node flag for the run processes (repeatable)
  --cpu-prof DIR              run each process under node --cpu-prof, writing into DIR
  --against DIR               also measure another built checkout of Baton (its packages/cli/dist
                              and its own node_modules), alternating with this one run by run, so
                              that both see the same machine speed
  --extra-ca-certs inherit|off
                              off: run the processes with NODE_EXTRA_CA_CERTS="" (default inherit)
  --pg-url URL                PostgreSQL (default BATON_BENCH_POSTGRES_URL or ${DEFAULT_POSTGRES_URL})
`;

interface Options {
  databases: DatabaseKind[];
  runs: number;
  warmup: number;
  runSeconds: number;
  nodeFlags: string[];
  cpuProf: string | undefined;
  against: string | undefined;
  extraCaCerts: "inherit" | "off";
  postgresUrl: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      db: { type: "string", default: "sqlite" },
      runs: { type: "string", default: "20" },
      warmup: { type: "string", default: "2" },
      "run-seconds": { type: "string", default: "0" },
      "node-flag": { type: "string", multiple: true, default: [] },
      "cpu-prof": { type: "string" },
      against: { type: "string" },
      "extra-ca-certs": { type: "string", default: "inherit" },
      "pg-url": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  return {
    databases: parseDatabases(values.db),
    runs: positiveInt("--runs", values.runs),
    warmup: Math.floor(nonNegativeNumber("--warmup", values.warmup)),
    runSeconds: nonNegativeNumber("--run-seconds", values["run-seconds"]),
    nodeFlags: values["node-flag"],
    cpuProf: values["cpu-prof"],
    against: values.against === undefined ? undefined : resolve(values.against),
    extraCaCerts: parseExtraCaCerts(values["extra-ca-certs"]),
    postgresUrl: values["pg-url"] ?? process.env.BATON_BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL,
  };
}

interface Result {
  database: DatabaseKind;
  /** Which checkout's build ran the processes: this one, or --against's directory. */
  build: string;
  /** CPU ms of `node -e 0` just before, with the run processes' environment: how fast the machine was. */
  nodeStartCpuMs: number | null;
  /** NODE_EXTRA_CA_CERTS of the environment (null: unset), and whether the run processes had it. */
  extraCaCerts: { environment: string | null; runProcesses: "inherit" | "off" };
  command: string[];
  runs: number;
  /** CPU (user + system) of each run process, ms. */
  cpuMs: { mean: number; p50: number; min: number; max: number };
  wallMs: { mean: number; p50: number };
  /** Server CPU per run process, ms: the requests one run makes. */
  serverCpuMsPerRun: number;
  failed: number;
}

/** A built checkout whose run processes are measured. */
interface Build {
  root: string;
  command: string[];
  deploymentId: string;
  cpu: number[];
  wall: number[];
  serverCpu: number;
  failed: number;
}

async function main(): Promise<number> {
  const options = parseCommandLine(parseOptions, USAGE);
  if (options === undefined) return 2;
  const roots = [REPO_ROOT, ...(options.against ? [options.against] : [])];
  const results: Result[] = [];
  for (const database of options.databases) {
    for (const result of await measure(database, options, roots)) {
      results.push(result);
      process.stdout.write(`\n${format(result)}\n`);
    }
  }
  process.stdout.write(`\n${JSON.stringify({ benchmark: "baton-run-process", results })}\n`);
  return results.every((r) => r.failed === 0) ? 0 : 1;
}

/** The command a worker of the checkout at `root` starts for a run (its built run-process-command.js). */
async function commandOf(root: string, options: Options): Promise<string[]> {
  const built = join(root, "packages/cli/dist/run-process-command.js");
  if (!existsSync(built)) throw new UsageError(`${built} does not exist: run npm run build in ${root}`);
  const { flowRunCommand } = (await import(pathToFileURL(built).href)) as { flowRunCommand(): string[] };
  const [node, ...rest] = flowRunCommand() as [string, ...string[]];
  const profile = options.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProf] : [];
  return [node, ...profile, ...options.nodeFlags, ...rest];
}

async function measure(database: DatabaseKind, options: Options, roots: string[]): Promise<Result[]> {
  const childEnv = extraCaCertsEnv(options.extraCaCerts);
  const speed = nodeStartCpuMs(10, childEnv);
  const prepared = prepareDatabase(database, options.postgresUrl);
  const server = await startServerChild({
    launcher: "serve",
    // Nothing else moves runs while one is measured.
    env: { ...prepared.env, BATON_LOG_LEVEL: "silent", BATON_SERVER_SERVICES_SCHEDULER_ENABLED: "false" },
    nodeArgs: [],
  });
  const apiUrl = `${server.url}/api`;
  const client = createClient(apiUrl, 4, "node");
  try {
    const flow = (await ok(client.post("/flows/", { name: "bench-sleeper" }))) as { id: string };
    await ok(client.post("/work_pools/", { name: "bench", type: "process" }));
    const builds: Build[] = [];
    for (const [i, root] of roots.entries()) {
      const deployment = (await ok(
        client.post("/deployments/", {
          name: `bench-run-process-${i}`,
          flow_id: flow.id,
          work_pool_name: "bench",
          // Each checkout runs its own copy of the flow, which imports its own SDK.
          entrypoint: "bench/flows/sleeper.mjs:sleeper",
          path: root,
          parameters: { seconds: options.runSeconds },
        }),
      )) as { id: string };
      builds.push({ root, command: await commandOf(root, options), deploymentId: deployment.id, cpu: [], wall: [], serverCpu: 0, failed: 0 });
    }
    // Run by run, alternating between the builds, so that a change of machine speed hits both.
    for (let i = 0; i < options.warmup + options.runs; i++) {
      for (const build of builds) await runOnce(build, i >= options.warmup, client, server.pid, { ...childEnv, BATON_API_URL: apiUrl });
    }
    return builds.map((build) => ({
      database,
      build: build.root,
      nodeStartCpuMs: speed,
      extraCaCerts: { environment: extraCaCerts() ?? null, runProcesses: options.extraCaCerts },
      command: build.command.map((part) => part.replace(build.root + "/", "")),
      runs: options.runs,
      cpuMs: { mean: mean(build.cpu), p50: median(build.cpu), min: Math.min(...build.cpu), max: Math.max(...build.cpu) },
      wallMs: { mean: mean(build.wall), p50: median(build.wall) },
      serverCpuMsPerRun: (build.serverCpu * 1000) / options.runs,
      failed: build.failed,
    }));
  } finally {
    client.close();
    await server.stop();
    await prepared.release();
  }
}

/** Creates a run of the build's deployment and runs `baton flow-run execute ID` for it. */
async function runOnce(build: Build, counted: boolean, client: JsonClient, serverPid: number, env: Record<string, string>): Promise<void> {
  const run = (await ok(client.post(`/deployments/${build.deploymentId}/create_flow_run`, { state: { type: "SCHEDULED", name: "Scheduled" } }))) as { id: string };
  const before = sampleProcess(process.pid)!.reapedChildrenCpuSeconds;
  const serverBefore = sampleProcess(serverPid)!.cpuSeconds;
  const started = performance.now();
  const [file, ...args] = build.command as [string, ...string[]];
  const child = spawn(file, [...args, run.id], {
    cwd: build.root,
    env: { ...process.env, ...env, BATON_CONSOLE_LOGS: "false" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const [code] = (await once(child, "exit")) as [number | null];
  const elapsed = performance.now() - started;
  if (!counted) return;
  if (code !== 0) build.failed++;
  build.cpu.push((sampleProcess(process.pid)!.reapedChildrenCpuSeconds - before) * 1000);
  build.serverCpu += sampleProcess(serverPid)!.cpuSeconds - serverBefore;
  build.wall.push(elapsed);
}

function format(r: Result): string {
  const ms = (n: number): string => `${n.toFixed(0)} ms`;
  const rows: Array<[string, string]> = [
    ["database", r.database],
    ["build", r.build],
    ["machine speed", r.nodeStartCpuMs === null ? "n/a" : `node -e 0 = ${r.nodeStartCpuMs} ms of CPU`],
    ["NODE_EXTRA_CA_CERTS", r.extraCaCerts.environment === null ? "unset" : `${r.extraCaCerts.environment}, ${r.extraCaCerts.runProcesses === "off" ? 'set to "" for the run processes' : "inherited by the run processes"}`],
    ["command", `${r.command.join(" ")} ID`],
    ["run processes", `${r.runs}${r.failed > 0 ? `, ${r.failed} exited non-zero` : ""}`],
    ["CPU per process", `mean ${ms(r.cpuMs.mean)}, p50 ${ms(r.cpuMs.p50)}, min ${ms(r.cpuMs.min)}, max ${ms(r.cpuMs.max)}`],
    ["wall per process", `mean ${ms(r.wallMs.mean)}, p50 ${ms(r.wallMs.p50)}`],
    ["server CPU per run", ms(r.serverCpuMsPerRun)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(18)} ${v}`).join("\n");
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

process.exitCode = await main();
