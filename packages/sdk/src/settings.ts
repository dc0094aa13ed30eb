import { z } from "@baton/core";
import { SettingsError } from "./errors.js";

/**
 * The SDK's settings. Each has one environment variable and may be overridden from code with
 * `configure()`; code wins over the environment.
 *
 * | setting       | variable              | default                                             |
 * |---------------|-----------------------|-----------------------------------------------------|
 * | `apiUrl`      | `BATON_API_URL`       | unset: start a temporary in-process server (ephemeral mode) |
 * | `logLevel`    | `BATON_LOGGING_LEVEL` | `info`: lowest level recorded and sent to the API    |
 * | `consoleLogs` | `BATON_CONSOLE_LOGS`  | `true`: also print run logs to stderr               |
 * | `flowRunHeartbeatSeconds` | `BATON_FLOW_RUN_HEARTBEAT_SECONDS` | `30`: how often a RUNNING flow run tells the server it is alive; `0` sends none |
 * | `clientSideTaskOrchestration` | `BATON_CLIENT_SIDE_TASK_ORCHESTRATION` | `true`: a flow's task runs are orchestrated in-process and reported as events (see engine/task-run-reporter.ts); `false` sends every state to the server's orchestration |
 * | `resultsPersistByDefault` | `BATON_RESULTS_PERSIST_BY_DEFAULT` | `false`: persist every flow's and task's result (and cache tasks by the DEFAULT policy) unless it says otherwise |
 * | `resultsDefaultSerializer` | `BATON_RESULTS_DEFAULT_SERIALIZER` | `json`: the serializer of persisted results (`json`, `v8`, or a registered type) |
 * | `localStoragePath` | `BATON_LOCAL_STORAGE_PATH` | `$BATON_HOME/storage`: the default LocalFileSystem result storage |
 * | `resultsS3` | `BATON_RESULTS_S3_BUCKET` (+ `_FOLDER`, `_ENDPOINT_URL`, `_REGION`, `_FORCE_PATH_STYLE`) | unset: when set, the default result storage is this S3 bucket |
 * | `tasksRefreshCache` | `BATON_TASKS_REFRESH_CACHE` | `false`: every task ignores cached results and writes them afresh |
 *
 * In ephemeral mode the server reads its own settings (`BATON_HOME`, `BATON_DATABASE_URL`, ...)
 * from the environment as `baton server start` does; the database defaults to `$BATON_HOME/baton.db`.
 */
export const LOG_LEVEL_NAMES = ["debug", "info", "warning", "error", "critical"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export interface Settings {
  apiUrl: string | undefined;
  logLevel: LogLevelName;
  consoleLogs: boolean;
  /**
   * Seconds between heartbeats of a RUNNING flow run. The server's zombies service declares a
   * run CRASHED when its heartbeats stop for longer than its timeout (90 s by default), so keep
   * this well below that. `0` sends none.
   */
  flowRunHeartbeatSeconds: number;
  /**
   * Task runs inside a flow run are orchestrated in this process and reported to the server as
   * batched events (Prefect 3's client-side task orchestration) when nothing needs the server
   * to decide (no cache key, no tags, the flow run's first attempt); `false` makes every task
   * state a `set_state` round trip.
   */
  clientSideTaskOrchestration: boolean;
  resultsPersistByDefault: boolean;
  resultsDefaultSerializer: string;
  /** Undefined: `$BATON_HOME/storage` (see results/storage.ts). */
  localStoragePath: string | undefined;
  resultsS3: { bucket: string; folder?: string; endpointUrl?: string; region?: string; forcePathStyle?: boolean } | undefined;
  tasksRefreshCache: boolean;
}

export interface ConfigureOptions {
  /** Base URL of the API, ending in `/api`; `null` goes back to `BATON_API_URL` / ephemeral mode. */
  apiUrl?: string | null;
  logLevel?: LogLevelName | null;
  consoleLogs?: boolean | null;
  flowRunHeartbeatSeconds?: number | null;
  clientSideTaskOrchestration?: boolean | null;
  resultsPersistByDefault?: boolean | null;
  resultsDefaultSerializer?: string | null;
  localStoragePath?: string | null;
  tasksRefreshCache?: boolean | null;
}

const blankIsUnset = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const HttpUrl = z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" });

const Env = z.object({
  BATON_API_URL: z.preprocess(blankIsUnset, HttpUrl.optional()),
  BATON_LOGGING_LEVEL: z.preprocess(
    (v) => (typeof v === "string" ? blankIsUnset(v.toLowerCase()) : v),
    z.enum(LOG_LEVEL_NAMES).default("info"),
  ),
  BATON_CONSOLE_LOGS: z.preprocess(
    (v) => (typeof v === "string" ? blankIsUnset(v.toLowerCase()) : v),
    z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((v) => v === "true" || v === "1"),
  ),
  BATON_FLOW_RUN_HEARTBEAT_SECONDS: z.preprocess(blankIsUnset, z.coerce.number().min(0, "must be 0 (off) or a number of seconds").default(30)),
  BATON_CLIENT_SIDE_TASK_ORCHESTRATION: flag("true"),
  BATON_RESULTS_PERSIST_BY_DEFAULT: flag("false"),
  BATON_RESULTS_DEFAULT_SERIALIZER: z.preprocess(blankIsUnset, z.string().default("json")),
  BATON_LOCAL_STORAGE_PATH: z.preprocess(blankIsUnset, z.string().optional()),
  BATON_TASKS_REFRESH_CACHE: flag("false"),
  BATON_RESULTS_S3_BUCKET: z.preprocess(blankIsUnset, z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)").optional()),
  BATON_RESULTS_S3_FOLDER: z.preprocess(blankIsUnset, z.string().optional()),
  BATON_RESULTS_S3_ENDPOINT_URL: z.preprocess(blankIsUnset, HttpUrl.optional()),
  BATON_RESULTS_S3_REGION: z.preprocess(blankIsUnset, z.string().optional()),
  BATON_RESULTS_S3_FORCE_PATH_STYLE: z.preprocess(
    (v) => (typeof v === "string" ? blankIsUnset(v.toLowerCase()) : v),
    z
      .enum(["true", "false", "1", "0"])
      .optional()
      .transform((v) => (v === undefined ? undefined : v === "true" || v === "1")),
  ),
});

function flag(fallback: "true" | "false") {
  return z.preprocess(
    (v) => (typeof v === "string" ? blankIsUnset(v.toLowerCase()) : v),
    z
      .enum(["true", "false", "1", "0"])
      .default(fallback)
      .transform((v) => v === "true" || v === "1"),
  );
}

let overrides: ConfigureOptions = {};

/**
 * Sets SDK settings from code (they win over the environment). Pass `null` to go back to
 * the environment's value.
 *
 * @example
 * import { configure } from "@baton/sdk";
 * configure({ apiUrl: "http://127.0.0.1:4200/api", consoleLogs: false });
 */
export function configure(options: ConfigureOptions): void {
  if (options.apiUrl != null) {
    const parsed = HttpUrl.safeParse(options.apiUrl);
    if (!parsed.success) throw new SettingsError("apiUrl", parsed.error.issues[0]?.message ?? "invalid URL");
  }
  if (options.logLevel != null && !LOG_LEVEL_NAMES.includes(options.logLevel)) {
    throw new SettingsError("logLevel", `must be one of ${LOG_LEVEL_NAMES.join(", ")}`);
  }
  const heartbeat = options.flowRunHeartbeatSeconds;
  if (heartbeat != null && !(Number.isFinite(heartbeat) && heartbeat >= 0)) {
    throw new SettingsError("flowRunHeartbeatSeconds", "must be 0 (off) or a number of seconds");
  }
  overrides = { ...overrides, ...options };
  overridesVersion++;
}

/**
 * The settings now in force. The environment is read on each call (it is cheap) so a script
 * or test may set variables after importing the SDK; a bad value fails with the variable's name.
 *
 * @example
 * import { currentSettings } from "@baton/sdk";
 * console.log(currentSettings().apiUrl ?? "ephemeral mode");
 */
export function currentSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  // Parsing costs ~50 µs and the engine asks several times per task run: reuse the last answer
  // while the variables it reads and the overrides are the same.
  let key = String(overridesVersion);
  for (const name of ENV_NAMES) key += `\u0000${env[name] ?? "\u0001"}`;
  if (memo !== undefined && memo.key === key) return { ...memo.settings };
  const settings = parseSettings(env);
  memo = { key, settings };
  return { ...settings };
}

const ENV_NAMES = Object.keys(Env.shape);
let memo: { key: string; settings: Settings } | undefined;
let overridesVersion = 0;

function parseSettings(env: NodeJS.ProcessEnv): Settings {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SettingsError(issue?.path.join(".") || "environment", issue?.message ?? "invalid value");
  }
  const e = parsed.data;
  return {
    apiUrl: overrides.apiUrl ?? e.BATON_API_URL,
    logLevel: overrides.logLevel ?? e.BATON_LOGGING_LEVEL,
    consoleLogs: overrides.consoleLogs ?? e.BATON_CONSOLE_LOGS,
    flowRunHeartbeatSeconds: overrides.flowRunHeartbeatSeconds ?? e.BATON_FLOW_RUN_HEARTBEAT_SECONDS,
    clientSideTaskOrchestration: overrides.clientSideTaskOrchestration ?? e.BATON_CLIENT_SIDE_TASK_ORCHESTRATION,
    resultsPersistByDefault: overrides.resultsPersistByDefault ?? e.BATON_RESULTS_PERSIST_BY_DEFAULT,
    resultsDefaultSerializer: overrides.resultsDefaultSerializer ?? e.BATON_RESULTS_DEFAULT_SERIALIZER,
    localStoragePath: overrides.localStoragePath ?? e.BATON_LOCAL_STORAGE_PATH,
    tasksRefreshCache: overrides.tasksRefreshCache ?? e.BATON_TASKS_REFRESH_CACHE,
    resultsS3:
      e.BATON_RESULTS_S3_BUCKET === undefined
        ? undefined
        : {
            bucket: e.BATON_RESULTS_S3_BUCKET,
            ...(e.BATON_RESULTS_S3_FOLDER !== undefined ? { folder: e.BATON_RESULTS_S3_FOLDER } : {}),
            ...(e.BATON_RESULTS_S3_ENDPOINT_URL !== undefined ? { endpointUrl: e.BATON_RESULTS_S3_ENDPOINT_URL } : {}),
            ...(e.BATON_RESULTS_S3_REGION !== undefined ? { region: e.BATON_RESULTS_S3_REGION } : {}),
            ...(e.BATON_RESULTS_S3_FORCE_PATH_STYLE !== undefined ? { forcePathStyle: e.BATON_RESULTS_S3_FORCE_PATH_STYLE } : {}),
          },
  };
}
