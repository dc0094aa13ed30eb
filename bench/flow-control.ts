/**
 * Flow-control benchmark: N flow runs served by one `serve()` process contend for a global
 * concurrency limit of L (each holds its slot for a while through the SDK's `concurrency()`),
 * against a Baton server in its own process. Prints the latency of the requests that take and
 * give back slots, how long runs waited for a slot, the most slots held at once (from the
 * server, sampled, and from inside the served process, exact), and the throughput.
 *
 *   npm run bench:flow-control                          # SQLite, 1,000 runs, limit 10, 20 ms holds
 *   npm run bench:flow-control -- --db postgres --runs 500 --limit 5 --hold-ms 50
 *   npm run bench:flow-control -- --part alone --cpu-prof /tmp/prof
 *
 * Two latencies are printed and must not be confused: the acquire REQUEST (one POST to
 * increment-with-lease, granted or refused with a 423: what the server takes to decide) and the
 * WAIT for a slot (from asking to holding: with 100 callers per slot that is queueing, bounded
 * below by holders x hold time, not a cost of the server). The p99 < 20 ms target is the
 * request's.
 *
 * The task part of the issue's benchmark (a 5,000-task map in one process) is
 * `npm run bench:task-map`; see bench/README.md.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { DEFAULT_POSTGRES_URL, prepareDatabase, type BenchDatabase } from "./lib/bench-database.js";
import { nonNegativeNumber, parseBenchArgs, parseCommandLine, positiveInt, UsageError, type DatabaseKind } from "./lib/args.js";
import { printProfile } from "./lib/cpuprofile.js";
import { latency, type Latency } from "./lib/report.js";
import { formatSqlTiming } from "./lib/sql-report.js";
import { startServerChild } from "./lib/server-process.js";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = dirname(BENCH_DIR);

const USAGE = `Usage: npm run bench:flow-control -- [options]
  --db sqlite|postgres   database (default sqlite)
  --runs N               flow runs contending (default 1000)
  --limit N              slots of the global concurrency limit (default 10)
  --hold-ms N            how long each run holds its slot (default 20)
  --part serve|alone|both  the flow runs through serve(), the limit alone, or both (default both)
  --serve-limit N        serve()'s most flow runs at once (default: no limit)
  --start-delay S        schedule the runs S s ahead and start the clock then, so that creating them
                         and serve() picking them up are not measured (default 0: clock starts at creation)
  --alone-callers N      callers of the limit-alone part (default 200)
  --cpu-prof DIR         run the server (and the serve() process) under node --cpu-prof and print summaries
  --sql-timing           time every SQL statement of the server (bench/sql-timing.mjs); print the totals
  --pg-url URL           PostgreSQL server (default ${DEFAULT_POSTGRES_URL})
`;

interface Options {
  db: DatabaseKind;
  runs: number;
  limit: number;
  holdMs: number;
  pgUrl: string;
  part: "serve" | "alone" | "both";
  serveLimit: number | undefined;
  startDelay: number;
  aloneCallers: number;
  cpuProf: string | undefined;
  sqlTiming: boolean;
}

function parseOptions(argv: string[]): Options {
  const values = parseBenchArgs(argv, {
    db: { type: "string", default: "sqlite" },
    runs: { type: "string", default: "1000" },
    limit: { type: "string", default: "10" },
    "hold-ms": { type: "string", default: "20" },
    part: { type: "string", default: "both" },
    "serve-limit": { type: "string" },
    "start-delay": { type: "string", default: "0" },
    "alone-callers": { type: "string", default: "200" },
    "sql-timing": { type: "boolean", default: false },
  });
  if (values.db !== "sqlite" && values.db !== "postgres") throw new UsageError(`--db must be sqlite or postgres, not ${values.db}`);
  return {
    db: values.db,
    runs: positiveInt("--runs", values.runs),
    limit: positiveInt("--limit", values.limit),
    holdMs: positiveInt("--hold-ms", values["hold-ms"]),
    pgUrl: values["pg-url"],
    part: parsePart(values.part),
    serveLimit: values["serve-limit"] === undefined ? undefined : positiveInt("--serve-limit", values["serve-limit"]),
    startDelay: nonNegativeNumber("--start-delay", values["start-delay"]),
    aloneCallers: positiveInt("--alone-callers", values["alone-callers"]),
    cpuProf: values["cpu-prof"],
    sqlTiming: values["sql-timing"],
  };
}

function parsePart(value: string): Options["part"] {
  if (value === "serve" || value === "alone" || value === "both") return value;
  throw new UsageError(`--part must be serve, alone or both, not ${value}`);
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
  const waitMs: number[] = [];
  let inside = 0;
  let most = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: contenders }, async () => {
      while (left > 0) {
        left -= 1;
        const asked = performance.now();
        const slots = await sdk.acquireConcurrencySlots(limitName);
        waitMs.push(performance.now() - asked);
        inside += 1;
        most = Math.max(most, inside);
        await sleep(holdMs);
        inside -= 1;
        await slots.release();
      }
    }),
  );
  sdk.BatonClient.prototype.request = request;
  return { timings, waitMs, most, seconds: (performance.now() - started) / 1000 };
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

/**
 * Samples the server's lease records (the `concurrency_lease` rows naming the limit, read from
 * the database itself) every few milliseconds: the slots held at once as the server recorded
 * them, independently of the count it keeps on the limit row.
 */
function sampleLeases(database: BenchDatabase, limitId: string): { stop(): Promise<{ most: number; samples: number }> } {
  let most = 0;
  let samples = 0;
  let done = false;
  const query = `SELECT COALESCE(SUM(slots), 0) AS held FROM concurrency_lease WHERE CAST(resource_ids AS TEXT) LIKE '%${limitId}%'`;
  const loop = (async () => {
    if (database.env.BATON_DATABASE_SCHEMA === undefined) {
      const file = database.env.BATON_DATABASE_URL!.replace(/^sqlite:/, "");
      const reader = new SqliteDatabase(file, { readonly: true });
      const statement = reader.prepare(query);
      try {
        while (!done) {
          most = Math.max(most, Number((statement.get() as { held: number }).held));
          samples += 1;
          await sleep(5);
        }
      } finally {
        reader.close();
      }
    } else {
      const client = new pg.Client({ connectionString: database.env.BATON_DATABASE_URL, options: `-c search_path=${database.env.BATON_DATABASE_SCHEMA}` });
      await client.connect();
      try {
        while (!done) {
          const result = await client.query<{ held: string }>(query);
          most = Math.max(most, Number(result.rows[0]?.held ?? 0));
          samples += 1;
          await sleep(5);
        }
      } finally {
        await client.end();
      }
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
      return { most, samples };
    },
  };
}

const HEADER = `${"(ms)".padEnd(34)} ${"count".padStart(7)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"p99".padStart(8)} ${"max".padStart(8)}`;
const row = (name: string, l: Latency) =>
  `${name.padEnd(34)} ${String(l.count).padStart(7)} ${l.p50.toFixed(1).padStart(8)} ${l.p95.toFixed(1).padStart(8)} ${l.p99.toFixed(1).padStart(8)} ${l.max.toFixed(1).padStart(8)}`;

interface PartResult {
  lines: string[];
  /** The serve() process, whose CPU profile is printed with --cpu-prof. */
  servedPid?: number | undefined;
  acquireP99: number;
  /** The most slots held at once by any count (exact in-process, server row, lease records). */
  most: number;
  ok: boolean;
}

async function servePart(options: Options, apiUrl: string, database: BenchDatabase, limit: { id: string; name: string }, statsFile: string, nodeArgs: string[]): Promise<PartResult> {
  const served = spawn(process.execPath, [...nodeArgs, join(BENCH_DIR, "flows/serve-contender.mjs")], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      BATON_API_URL: apiUrl,
      BATON_CONSOLE_LOGS: "false",
      BATON_BENCH_LIMIT: limit.name,
      BATON_BENCH_HOLD_MS: String(options.holdMs),
      BATON_BENCH_STATS: statsFile,
      BATON_BENCH_SERVE_LIMIT: options.serveLimit === undefined ? "" : String(options.serveLimit),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = once(served, "exit");
  try {
    let deploymentId: string | undefined;
    for (let i = 0; i < 300 && deploymentId === undefined; i++) {
      const found = await api<Array<{ id: string }>>(apiUrl, "POST", "/deployments/filter", { deployments: { name: { any_: ["bench-gcl"] } } });
      deploymentId = found[0]?.id;
      if (deploymentId === undefined) await sleep(100);
    }
    if (deploymentId === undefined) throw new Error("serve() did not register its deployment within 30 s");

    process.stderr.write(`creating ${options.runs} flow runs...\n`);
    let started = performance.now();
    const startAt = new Date(Date.now() + options.startDelay * 1000);
    const state = options.startDelay > 0 ? { type: "SCHEDULED", state_details: { scheduled_time: startAt.toISOString() } } : { type: "SCHEDULED" };
    for (let i = 0; i < options.runs; i += 100) {
      const batch = Math.min(100, options.runs - i);
      await Promise.all(Array.from({ length: batch }, () => api(apiUrl, "POST", `/deployments/${deploymentId}/create_flow_run`, { state })));
    }
    if (options.startDelay > 0) {
      const early = startAt.getTime() - Date.now();
      if (early < 0) process.stderr.write(`WARNING: creating the runs took longer than --start-delay (${(-early / 1000).toFixed(1)} s late)\n`);
      await sleep(Math.max(0, early));
      started = performance.now();
    }

    // Sample the server's count of slots in use, and its lease records, while the runs contend.
    const leases = sampleLeases(database, limit.id);
    let serverMost = 0;
    let samples = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const current = await api<{ active_slots: number }>(apiUrl, "GET", `/v2/concurrency_limits/${limit.name}`);
        serverMost = Math.max(serverMost, current.active_slots);
        samples += 1;
        await sleep(25);
      }
    })();
    let completed = 0;
    try {
      while (completed < options.runs) {
        completed = await api<number>(apiUrl, "POST", "/flow_runs/count", { flow_runs: { deployment_id: { any_: [deploymentId] }, state: { type: { any_: ["COMPLETED"] } } } });
        const failed = await api<number>(apiUrl, "POST", "/flow_runs/count", { flow_runs: { deployment_id: { any_: [deploymentId] }, state: { type: { any_: ["FAILED", "CRASHED"] } } } });
        if (failed > 0) throw new Error(`${failed} flow run(s) failed`);
        if (completed < options.runs) await sleep(100);
      }
    } finally {
      done = true;
      await sampler;
    }
    const seconds = (performance.now() - started) / 1000;
    const leaseMost = await leases.stop();
    served.kill("SIGTERM");
    await exited;
    const stats = JSON.parse(readFileSync(statsFile, "utf8")) as ServedStats;
    const finalLimit = await api<{ active_slots: number; avg_slot_occupancy_seconds: number }>(apiUrl, "GET", `/v2/concurrency_limits/${limit.name}`);
    const acquire = latency([...stats.request.granted, ...stats.request.denied]);
    const most = Math.max(stats.mostInside, serverMost, leaseMost.most);
    return {
      servedPid: served.pid,
      acquireP99: acquire.p99,
      most,
      ok: most <= options.limit && stats.runs === options.runs && finalLimit.active_slots === 0,
      lines: [
        `Through serve(): ${options.runs} flow runs served by one serve() process${options.serveLimit === undefined ? "" : ` (limit ${options.serveLimit} at once)`}, each holding 1 slot for ${options.holdMs} ms`,
        HEADER,
        row("acquire request (granted + 423)", acquire),
        row("  granted", latency(stats.request.granted)),
        row("  refused (423)", latency(stats.request.denied)),
        row("release request", latency(stats.request.released)),
        row("wait for a slot (ask -> hold)", latency(stats.waitMs)),
        `most slots held at once: ${stats.mostInside} in the served process (exact), ${leaseMost.most} in the server's lease records (${leaseMost.samples} samples), ${serverMost} on the limit row (${samples} samples); limit ${options.limit}: ${most <= options.limit ? "never exceeded" : "EXCEEDED"}`,
        `slots in use at the end: ${finalLimit.active_slots}; measured average occupancy ${(finalLimit.avg_slot_occupancy_seconds * 1000).toFixed(1)} ms`,
        `event loop delay p99 of the served process: ${stats.loopDelayP99Ms.toFixed(1)} ms (part of every request's latency above)`,
        `throughput: ${options.runs} runs in ${seconds.toFixed(2)} s${options.startDelay > 0 ? " (from the scheduled start)" : " (from the first creation)"} = ${(options.runs / seconds).toFixed(1)} runs/s (the limit allows at most ${((options.limit * 1000) / options.holdMs).toFixed(0)} runs/s at ${options.holdMs} ms a hold)`,
      ],
    };
  } finally {
    if (served.exitCode === null) {
      served.kill("SIGTERM");
      await exited;
    }
  }
}

async function alonePart(options: Options, apiUrl: string, database: BenchDatabase, limit: { id: string; name: string }): Promise<PartResult> {
  const acquisitions = Math.max(options.aloneCallers * 10, 2000);
  const leases = sampleLeases(database, limit.id);
  const probe = await probeLimit(apiUrl, limit.name, options.aloneCallers, acquisitions, 5);
  const leaseMost = await leases.stop();
  const acquire = latency([...probe.timings.granted, ...probe.timings.denied]);
  const most = Math.max(probe.most, leaseMost.most);
  return {
    acquireP99: acquire.p99,
    most,
    ok: most <= options.limit,
    lines: [
      `The limit alone: ${options.aloneCallers} callers in one process, ${acquisitions} acquisitions of 5 ms, no flow runs (${probe.seconds.toFixed(2)} s = ${(acquisitions / probe.seconds).toFixed(0)} grants/s)`,
      HEADER,
      row("acquire request (granted + 423)", acquire),
      row("  granted", latency(probe.timings.granted)),
      row("  refused (423)", latency(probe.timings.denied)),
      row("release request", latency(probe.timings.released)),
      row("wait for a slot (ask -> hold)", latency(probe.waitMs)),
      `most slots held at once: ${probe.most} in this process (exact), ${leaseMost.most} in the server's lease records (${leaseMost.samples} samples); limit ${options.limit}: ${most <= options.limit ? "never exceeded" : "EXCEEDED"}`,
    ],
  };
}

async function main(): Promise<number> {
  const options = parseCommandLine(parseOptions, USAGE);
  if (options === undefined) return 2;
  const database = prepareDatabase(options.db, options.pgUrl);
  const nodeArgs = options.cpuProf ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProf] : [];
  const serverEnv = { ...database.env };
  const serverArgs = [...nodeArgs];
  const timingFile = join(database.home, "sql-timing.json");
  if (options.sqlTiming) {
    serverArgs.push("--import", pathToFileURL(join(BENCH_DIR, "sql-timing.mjs")).href);
    serverEnv.BATON_BENCH_SQL_TIMING_FILE = timingFile;
  }
  const server = await startServerChild({ launcher: "serve", env: serverEnv, nodeArgs: serverArgs });
  const apiUrl = `${server.url}/api`;
  const statsDir = mkdtempSync(join(tmpdir(), "baton-bench-gcl-"));
  const statsFile = join(statsDir, "stats.json");
  const startedAt = Date.now();
  let servedPid: number | undefined;
  try {
    const served = await api<{ id: string; name: string }>(apiUrl, "POST", "/v2/concurrency_limits/", { name: "bench-slots", limit: options.limit });
    const probe = await api<{ id: string; name: string }>(apiUrl, "POST", "/v2/concurrency_limits/", { name: "bench-probe", limit: options.limit });
    const results: PartResult[] = [];
    if (options.part !== "alone") results.push(await servePart(options, apiUrl, database, served, statsFile, nodeArgs));
    if (options.part !== "serve") results.push(await alonePart(options, apiUrl, database, probe));
    servedPid = results[0]?.servedPid;
    const lines = [
      `Flow-control benchmark: global concurrency limit of ${options.limit}, ${options.db} (${database.where}), server in its own process`,
      "",
      "acquire request = one POST increment-with-lease, granted or refused (423), timed by the caller: the target (p99 < 20 ms) applies to it.",
      "wait for a slot = from asking to holding the slot, including every refusal and Retry-After: with many callers per slot this is queueing.",
      "",
      ...results.flatMap((r) => [...r.lines, ""]),
      `target: acquire request p99 < 20 ms -> ${results.map((r, i) => `${(options.part === "alone" || i === 1) ? "the limit alone" : "through serve()"}: ${r.acquireP99.toFixed(1)} ms ${r.acquireP99 < 20 ? "met" : "NOT met"}`).join("; ")}`,
      "Prefect publishes no figure for global concurrency limit latency that we know of.",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    await server.stop();
    if (options.sqlTiming) process.stdout.write(`\n${formatSqlTiming(timingFile)}\n`);
    await database.release();
    rmSync(statsDir, { recursive: true, force: true });
    if (options.cpuProf) {
      printProfile(options.cpuProf, server.pid, startedAt);
      if (servedPid !== undefined) printProfile(options.cpuProf, servedPid, startedAt, "the serve() process");
    }
  }
}

process.exitCode = await main();
