/**
 * Flow-control benchmark: N flow runs served by one `serve()` process contend for a global
 * concurrency limit of L (each holds its slot for a while through the SDK's `concurrency()`),
 * against a Baton server in its own process. Prints the latency of the requests that take and
 * give back slots, how long runs waited for a slot, the most slots held at once (from the
 * server, sampled, and from inside the served process, exact), and the throughput.
 *
 *   npm run bench:flow-control                          # SQLite, 1,000 runs, limit 10, 20 ms holds
 *   npm run bench:flow-control -- --db postgres --runs 500 --limit 5 --hold-ms 50
 *
 * The task part of the benchmark (a 5,000-task map in one process) is
 * `npm run bench:task-map`; see bench/README.md.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { DEFAULT_POSTGRES_URL, prepareDatabase } from "./lib/bench-database.js";
import { parseCommandLine, positiveInt, UsageError, type DatabaseKind } from "./lib/args.js";
import { latency, type Latency } from "./lib/report.js";
import { startServerChild } from "./lib/server-process.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = dirname(BENCH_DIR);

const USAGE = `Usage: npm run bench:flow-control -- [options]
  --db sqlite|postgres   database (default sqlite)
  --runs N               flow runs contending (default 1000)
  --limit N              slots of the global concurrency limit (default 10)
  --hold-ms N            how long each run holds its slot (default 20)
  --pg-url URL           PostgreSQL server (default ${DEFAULT_POSTGRES_URL})
`;

interface Options {
  db: DatabaseKind;
  runs: number;
  limit: number;
  holdMs: number;
  pgUrl: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: "string", default: "sqlite" },
      runs: { type: "string", default: "1000" },
      limit: { type: "string", default: "10" },
      "hold-ms": { type: "string", default: "20" },
      "pg-url": { type: "string", default: process.env.BATON_BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError("");
  if (values.db !== "sqlite" && values.db !== "postgres") throw new UsageError(`--db must be sqlite or postgres, not ${values.db}`);
  return {
    db: values.db,
    runs: positiveInt("--runs", values.runs),
    limit: positiveInt("--limit", values.limit),
    holdMs: positiveInt("--hold-ms", values["hold-ms"]),
    pgUrl: values["pg-url"],
  };
}

interface ServedStats {
  request: { granted: number[]; denied: number[]; released: number[] };
  waitMs: number[];
  mostInside: number;
  runs: number;
  loopDelayP99Ms: number;
}

/**
 * The same contention without flow runs: `contenders` callers in this process take and give
 * back slots through the SDK as fast as the limit allows, so that the figures are those of
 * the limit itself rather than of a server also busy running 1,000 flows.
 */
async function probeLimit(apiUrl: string, limitName: string, contenders: number, acquisitions: number, holdMs: number) {
  const sdk = await import("@baton/sdk");
  sdk.configure({ apiUrl, consoleLogs: false });
  const timings = { granted: [] as number[], denied: [] as number[], released: [] as number[] };
  const request = sdk.BatonClient.prototype.request;
  sdk.BatonClient.prototype.request = async function timed<T>(this: InstanceType<typeof sdk.BatonClient>, method: string, path: string, body?: unknown): Promise<T> {
    const started = performance.now();
    try {
      const result = await request.call(this, method, path, body);
      (path.includes("decrement") ? timings.released : timings.granted).push(performance.now() - started);
      return result as T;
    } catch (error) {
      if ((error as { status?: number }).status === 423) timings.denied.push(performance.now() - started);
      throw error;
    }
  };
  let left = acquisitions;
  let inside = 0;
  let most = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: contenders }, async () => {
      while (left > 0) {
        left -= 1;
        const slots = await sdk.acquireConcurrencySlots(limitName);
        inside += 1;
        most = Math.max(most, inside);
        await sleep(holdMs);
        inside -= 1;
        await slots.release();
      }
    }),
  );
  sdk.BatonClient.prototype.request = request;
  return { timings, most, seconds: (performance.now() - started) / 1000 };
}

async function api<T>(apiUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function main(): Promise<number> {
  const options = parseCommandLine(parseOptions, USAGE);
  if (options === undefined) return 2;
  const database = prepareDatabase(options.db, options.pgUrl);
  const server = await startServerChild({ launcher: "serve", env: database.env, nodeArgs: [] });
  const apiUrl = `${server.url}/api`;
  const statsDir = mkdtempSync(join(tmpdir(), "baton-bench-gcl-"));
  const statsFile = join(statsDir, "stats.json");
  try {
    const limitName = "bench-slots";
    await api(apiUrl, "POST", "/v2/concurrency_limits/", { name: limitName, limit: options.limit });
    await api(apiUrl, "POST", "/v2/concurrency_limits/", { name: "bench-probe", limit: options.limit });

    const served = spawn(process.execPath, [join(BENCH_DIR, "flows/serve-contender.mjs")], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        BATON_API_URL: apiUrl,
        BATON_CONSOLE_LOGS: "false",
        BATON_BENCH_LIMIT: limitName,
        BATON_BENCH_HOLD_MS: String(options.holdMs),
        BATON_BENCH_STATS: statsFile,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = once(served, "exit");

    let deploymentId: string | undefined;
    for (let i = 0; i < 300 && deploymentId === undefined; i++) {
      const found = await api<Array<{ id: string }>>(apiUrl, "POST", "/deployments/filter", { deployments: { name: { any_: ["bench-gcl"] } } });
      deploymentId = found[0]?.id;
      if (deploymentId === undefined) await sleep(100);
    }
    if (deploymentId === undefined) throw new Error("serve() did not register its deployment within 30 s");

    process.stderr.write(`creating ${options.runs} flow runs...\n`);
    const started = performance.now();
    for (let i = 0; i < options.runs; i += 100) {
      const batch = Math.min(100, options.runs - i);
      await Promise.all(Array.from({ length: batch }, () => api(apiUrl, "POST", `/deployments/${deploymentId}/create_flow_run`, { state: { type: "SCHEDULED" } })));
    }

    // Sample the server's count of slots in use while the runs contend.
    let serverMost = 0;
    let samples = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const limit = await api<{ active_slots: number }>(apiUrl, "GET", `/v2/concurrency_limits/${limitName}`);
        serverMost = Math.max(serverMost, limit.active_slots);
        samples += 1;
        await sleep(25);
      }
    })();
    let completed = 0;
    while (completed < options.runs) {
      completed = await api<number>(apiUrl, "POST", "/flow_runs/count", { flow_runs: { deployment_id: { any_: [deploymentId] }, state: { type: { any_: ["COMPLETED"] } } } });
      const failed = await api<number>(apiUrl, "POST", "/flow_runs/count", { flow_runs: { deployment_id: { any_: [deploymentId] }, state: { type: { any_: ["FAILED", "CRASHED"] } } } });
      if (failed > 0) throw new Error(`${failed} flow run(s) failed`);
      if (completed < options.runs) await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    done = true;
    await sampler;
    served.kill("SIGTERM");
    await exited;
    const stats = JSON.parse(readFileSync(statsFile, "utf8")) as ServedStats;
    const finalLimit = await api<{ active_slots: number; avg_slot_occupancy_seconds: number }>(apiUrl, "GET", `/v2/concurrency_limits/${limitName}`);

    const probe = await probeLimit(apiUrl, "bench-probe", 200, 2000, 5);
    const row = (name: string, l: Latency) =>
      `${name.padEnd(30)} ${String(l.count).padStart(7)} ${l.p50.toFixed(1).padStart(8)} ${l.p95.toFixed(1).padStart(8)} ${l.p99.toFixed(1).padStart(8)} ${l.max.toFixed(1).padStart(8)}`;
    const acquire = [...stats.request.granted, ...stats.request.denied];
    const lines = [
      `Flow-control benchmark: ${options.runs} flow runs through serve(), global limit of ${options.limit}, ${options.holdMs} ms holds, ${options.db} (${database.where})`,
      "",
      `${"requests (ms)".padEnd(30)} ${"count".padStart(7)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"p99".padStart(8)} ${"max".padStart(8)}`,
      row("acquire (granted + 423)", latency(acquire)),
      row("  granted", latency(stats.request.granted)),
      row("  refused (423)", latency(stats.request.denied)),
      row("release (decrement-with-lease)", latency(stats.request.released)),
      row("wait for a slot (queueing)", latency(stats.waitMs)),
      "",
      `most slots held at once: ${stats.mostInside} in the served process (exact), ${serverMost} by the server (${samples} samples); limit ${options.limit}: ${Math.max(stats.mostInside, serverMost) <= options.limit ? "never exceeded" : "EXCEEDED"}`,
      `slots in use at the end: ${finalLimit.active_slots}; measured average occupancy ${(finalLimit.avg_slot_occupancy_seconds * 1000).toFixed(1)} ms`,
      `event loop delay p99 of the served process: ${stats.loopDelayP99Ms.toFixed(1)} ms (part of every request's latency above)`,
      `throughput: ${options.runs} runs in ${seconds.toFixed(2)} s = ${(options.runs / seconds).toFixed(1)} runs/s (the limit allows at most ${((options.limit * 1000) / options.holdMs).toFixed(0)} runs/s at ${options.holdMs} ms a hold)`,
      "",
      `The limit alone: 200 callers in one process, 2,000 acquisitions of 5 ms, limit ${options.limit}, no flow runs (${probe.seconds.toFixed(2)} s, most held at once ${probe.most})`,
      row("acquire (granted + 423)", latency([...probe.timings.granted, ...probe.timings.denied])),
      row("  granted", latency(probe.timings.granted)),
      row("  refused (423)", latency(probe.timings.denied)),
      row("release (decrement-with-lease)", latency(probe.timings.released)),
      "",
      `target: acquire p99 < 20 ms -> through serve(): ${latency(acquire).p99 < 20 ? "met" : "NOT met"}; the limit alone: ${latency([...probe.timings.granted, ...probe.timings.denied]).p99 < 20 ? "met" : "NOT met"}`,
      "Prefect publishes no figure for global concurrency limit latency that we know of.",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return Math.max(stats.mostInside, serverMost, probe.most) <= options.limit && stats.runs === options.runs ? 0 : 1;
  } finally {
    await server.stop();
    await database.release();
    rmSync(statsDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
