import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEFAULT_POSTGRES_URL } from "./bench-database.js";

export type DatabaseKind = "sqlite" | "postgres";
export type HttpImpl = "node" | "fetch";

export interface BenchOptions {
  databases: DatabaseKind[];
  clients: number;
  /** Measured seconds; ignored when `runs` is set. */
  duration: number;
  /** Measure exactly this many flow-run lifecycles instead of a fixed time. */
  runs: number | undefined;
  /** Task runs driven inside each flow run while it is RUNNING. */
  tasks: number;
  warmup: number;
  /** An already-running server (its base or `/api` URL); no child is started. */
  server: string | undefined;
  /** PID of that server, to read its CPU and RSS from /proc (optional). */
  serverPid: number | undefined;
  postgresUrl: string;
  /** BATON_DATABASE_POOL_SIZE for the child; undefined keeps the server's default. */
  pool: number | undefined;
  http: HttpImpl;
  /** How the server child is started: bench/serve.mjs or the built CLI. */
  launcher: "serve" | "cli";
  /** Directory for `node --cpu-prof` output of the server child; summarised at the end. */
  cpuProf: string | undefined;
  /** Time every SQL statement in the server child (bench/sql-timing.mjs) and print the totals. */
  sqlTiming: boolean;
  /** Wait up to this many seconds for the machine to go quiet (< 10% busy) before each database. */
  waitIdle: number;
}

export const USAGE = `Usage: npm run bench -- [options]

  --db sqlite|postgres|both   databases to benchmark (default both)
  --clients N                 concurrent HTTP clients (default 16)
  --duration S                measured seconds per database (default 20)
  --runs N                    measure N flow-run lifecycles instead of a duration
  --tasks N                   task runs per flow run, each PENDING -> RUNNING -> COMPLETED (default 0)
  --warmup S                  unmeasured load before measuring (default 2)
  --server URL                benchmark this running server instead of starting one (one database)
  --server-pid PID            with --server: read that process's CPU and RSS
  --pg-url URL                PostgreSQL for --db postgres (default BATON_BENCH_POSTGRES_URL or
                              postgresql://postgres@127.0.0.1:5432/test); a fresh schema is used and dropped
  --pool N                    BATON_DATABASE_POOL_SIZE of the server child (default: the server's own)
  --http node|fetch           load-generator HTTP stack (default node: node:http keep-alive agent)
  --launcher serve|cli        server child: node bench/serve.mjs (default), or
                              node packages/cli/dist/bin.js server start --port 0
  --cpu-prof DIR              run the server child under node --cpu-prof and summarise the profile
  --wait-idle S               wait up to S seconds for the machine to be under 10% busy before
                              each database (default 0: warn and go on)
  --sql-timing                time each SQL statement in the server child and print the totals
`;

export class UsageError extends Error {
  override name = "UsageError";
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      db: { type: "string", default: "both" },
      clients: { type: "string", default: "16" },
      duration: { type: "string", default: "20" },
      runs: { type: "string" },
      tasks: { type: "string", default: "0" },
      warmup: { type: "string", default: "2" },
      server: { type: "string" },
      "server-pid": { type: "string" },
      "pg-url": { type: "string" },
      pool: { type: "string" },
      http: { type: "string", default: "node" },
      launcher: { type: "string", default: "serve" },
      "cpu-prof": { type: "string" },
      "sql-timing": { type: "boolean", default: false },
      "wait-idle": { type: "string", default: "0" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  const databases = parseDatabases(values.db);
  if (values.server && databases.length > 1) {
    throw new UsageError("--server benchmarks one running server: also pass --db sqlite or --db postgres to label it");
  }
  if (values.http !== "node" && values.http !== "fetch") throw new UsageError(`--http must be node or fetch, not ${values.http}`);
  if (values.launcher !== "serve" && values.launcher !== "cli") throw new UsageError(`--launcher must be serve or cli, not ${values.launcher}`);
  return {
    databases,
    clients: positiveInt("--clients", values.clients),
    duration: positiveNumber("--duration", values.duration),
    runs: values.runs === undefined ? undefined : positiveInt("--runs", values.runs),
    tasks: nonNegativeInt("--tasks", values.tasks),
    warmup: nonNegativeNumber("--warmup", values.warmup),
    server: values.server,
    serverPid: values["server-pid"] === undefined ? undefined : positiveInt("--server-pid", values["server-pid"]),
    postgresUrl: values["pg-url"] ?? process.env.BATON_BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL,
    pool: values.pool === undefined ? undefined : positiveInt("--pool", values.pool),
    http: values.http,
    launcher: values.launcher,
    cpuProf: values["cpu-prof"],
    sqlTiming: values["sql-timing"],
    waitIdle: nonNegativeNumber("--wait-idle", values["wait-idle"]),
  };
}

/** Options that the task-map and flow-control benchmarks share, with the same names and defaults. */
const SHARED_OPTIONS = {
  "pg-url": { type: "string", default: process.env.BATON_BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL },
  "cpu-prof": { type: "string" },
  help: { type: "boolean", default: false },
} as const;

type BenchArgs<O extends NonNullable<ParseArgsConfig["options"]>> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; options: O & typeof SHARED_OPTIONS }>>["values"];

/**
 * Strict `parseArgs` of a benchmark's own options plus `--pg-url` (default
 * BATON_BENCH_POSTGRES_URL or the local test database), `--cpu-prof DIR` and `--help`; --help
 * throws an empty UsageError so that `parseCommandLine` prints the usage alone.
 */
export function parseBenchArgs<const O extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: O): BenchArgs<O> {
  // Inside a generic, TypeScript cannot work out parseArgs's result type; BenchArgs spells it.
  const values = parseArgs({ args: argv, strict: true, options: { ...options, ...SHARED_OPTIONS } }).values as BenchArgs<O>;
  if ((values as { help?: boolean }).help) throw new UsageError("");
  return values;
}

export function parseDatabases(value: string): DatabaseKind[] {
  switch (value) {
    case "sqlite":
      return ["sqlite"];
    case "postgres":
    case "postgresql":
      return ["postgres"];
    case "both":
      return ["sqlite", "postgres"];
    default:
      throw new UsageError(`--db must be sqlite, postgres or both, not ${value}`);
  }
}

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not ${value}`);
  return n;
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number, not ${value}`);
  return n;
}

export function positiveNumber(flag: string, value: string, what = "a positive number of seconds"): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be ${what}, not ${value}`);
  return n;
}

export function nonNegativeNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number of seconds, not ${value}`);
  return n;
}

/**
 * Parses a benchmark's command line; on a bad option (or --help) writes the message and the
 * usage to stderr and returns undefined, for the caller to exit with code 2.
 */
export function parseCommandLine<T>(parse: (argv: string[]) => T, usage: string, argv = process.argv.slice(2)): T | undefined {
  try {
    return parse(argv);
  } catch (error) {
    // parseArgs throws a TypeError for unknown options and missing values.
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    if (error.message) process.stderr.write(`${error.message}\n\n`);
    process.stderr.write(usage);
    return undefined;
  }
}
