import { format } from "node:util";
import { LogLevel, type LogCreate } from "@baton/core";
import { JsonBytes, type BatonClient } from "./client.js";
import { JsonArrayBytes } from "./engine/json-array.js";
import { currentRun, currentStore } from "./context.js";
import { MissingContextError } from "./errors.js";
import { isoNow } from "./iso-time.js";
import { currentSettings, type LogLevelName, type Settings } from "./settings.js";

/** Python's numeric levels, which Prefect's log records use. */
const LEVELS: Record<LogLevelName, number> = {
  debug: LogLevel.DEBUG,
  info: LogLevel.INFO,
  warning: LogLevel.WARNING,
  error: LogLevel.ERROR,
  critical: LogLevel.CRITICAL,
};

/** A logger bound to one run; records go to the API (batched) and, by default, to stderr. */
export interface RunLogger {
  debug(message: unknown, ...args: unknown[]): void;
  info(message: unknown, ...args: unknown[]): void;
  warning(message: unknown, ...args: unknown[]): void;
  error(message: unknown, ...args: unknown[]): void;
  critical(message: unknown, ...args: unknown[]): void;
}

/**
 * Collects log records and sends them to `POST /logs/` in batches: when `batchSize` records
 * are waiting, else `intervalMs` after the first one, and whenever `flush()` is called (the
 * engine flushes at the end of every flow run). Its timer never keeps the process alive.
 * A failed send is reported once on stderr and dropped: logs must not fail a run. Batches are
 * large (Prefect's client sends up to 4 MB every 2 s): a 5,000-task map logs 10,000 lines,
 * and each request costs the server more than a few hundred rows more in one INSERT.
 *
 * @example
 * const logs = new LogShipper(new BatonClient({ apiUrl: "http://127.0.0.1:4200/api" }));
 * logs.enqueue({ name: "baton.flow_runs", level: 20, message: "hello", timestamp: new Date().toISOString(), flow_run_id: id, task_run_id: null });
 * await logs.flush();
 */
export class LogShipper {
  /** The batch being gathered, as the request body's bytes: a record is serialised when it is queued, not kept as an object until the batch leaves. */
  private queue: JsonArrayBytes | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private warned = false;
  /** The size of the last full batch: the next one starts that big. */
  private batchBytes = 16 * 1024;

  constructor(
    private readonly client: BatonClient,
    private readonly batchSize = 1000,
    private readonly intervalMs = 500,
  ) {}

  enqueue(record: LogCreate): void {
    this.queue ??= new JsonArrayBytes(this.batchBytes);
    this.queue.push(JSON.stringify(record));
    if (this.queue.count >= this.batchSize) {
      this.batchBytes = Math.ceil(this.queue.byteLength * 1.1);
      void this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Sends everything queued so far; resolves when it (and earlier sends) are done. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue;
    this.queue = undefined;
    if (batch !== undefined) {
      const body = new JsonBytes(batch.finish());
      this.sending = this.sending.then(() => this.send(body));
    }
    return this.sending;
  }

  private async send(body: JsonBytes): Promise<void> {
    try {
      await this.client.request<void>("POST", "/logs/", body);
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        process.stderr.write(`baton: could not send run logs to ${this.client.apiUrl}: ${String(error)}\n`);
      }
    }
  }
}

export interface RunLoggerTarget {
  kind: "flow" | "task";
  runName: string;
  flowRunId: string | null;
  taskRunId: string | null;
  shipper: LogShipper;
  /**
   * The settings the run's records follow (its flow run attempt's, FlowRunContext.settings);
   * undefined reads them at each record. Reading them is ~7 µs (the environment), and a
   * 5,000-task map logs 10,000 lines.
   */
  settings?: Settings;
}

/** Its methods are closures, not a class's, so `const { info } = getRunLogger()` works too. */
export function createRunLogger(target: RunLoggerTarget): RunLogger {
  return {
    debug: (message, ...args) => emit(target, LogLevel.DEBUG, formatMessage(message, args), true),
    info: (message, ...args) => emit(target, LogLevel.INFO, formatMessage(message, args), true),
    warning: (message, ...args) => emit(target, LogLevel.WARNING, formatMessage(message, args), true),
    error: (message, ...args) => emit(target, LogLevel.ERROR, formatMessage(message, args), true),
    critical: (message, ...args) => emit(target, LogLevel.CRITICAL, formatMessage(message, args), true),
  };
}

/** util.format's answer; a string without `%` and nothing more is that string (the engine's own lines). */
function formatMessage(message: unknown, args: unknown[]): string {
  if (args.length === 0 && typeof message === "string" && !message.includes("%")) return message;
  return format(message, ...args);
}

/** Records one message for a run: to the API, and to stderr when `echo` and console logs are on. */
function emit(target: RunLoggerTarget, level: number, message: string, echo: boolean): void {
  const settings = target.settings ?? currentSettings();
  if (level < LEVELS[settings.logLevel]) return;
  const timestamp = isoNow();
  target.shipper.enqueue({
    name: target.kind === "flow" ? "baton.flow_runs" : "baton.task_runs",
    level,
    message,
    timestamp,
    flow_run_id: target.flowRunId,
    task_run_id: target.taskRunId,
  });
  if (echo && settings.consoleLogs) {
    const who = `${target.kind === "flow" ? "Flow" : "Task"} run '${target.runName}'`;
    process.stderr.write(`${timestamp.slice(11, 23)} | ${levelName(level).padEnd(8)} | ${who} - ${message}\n`);
  }
}

function levelName(level: number): string {
  if (level >= LogLevel.CRITICAL) return "CRITICAL";
  if (level >= LogLevel.ERROR) return "ERROR";
  if (level >= LogLevel.WARNING) return "WARNING";
  if (level >= LogLevel.INFO) return "INFO";
  return "DEBUG";
}

/**
 * The logger of the run executing now (the task run inside a task, else the flow run). Its
 * records appear under the run in the API (`POST /api/logs/filter`) and the UI.
 *
 * @example
 * import { flow, getRunLogger } from "@baton/sdk";
 * const etl = flow(async function etl() {
 *   const logger = getRunLogger();
 *   logger.info("loaded %d rows", 42);
 * });
 */
export function getRunLogger(): RunLogger {
  const run = currentRun();
  if (run === undefined) {
    throw new MissingContextError("getRunLogger() was called outside a flow or task run");
  }
  return run.logger;
}

type ConsoleMethod = "log" | "info" | "warn" | "error";
const PRINT_LEVELS: Record<ConsoleMethod, number> = {
  log: LogLevel.INFO,
  info: LogLevel.INFO,
  warn: LogLevel.WARNING,
  error: LogLevel.ERROR,
};
let printCaptureInstalled = false;

/**
 * With `logPrints: true`, `console.log/info/warn/error` inside a run are also recorded as the
 * run's logs (and still printed). The console is patched once; each call checks the run
 * context, so code outside runs with `logPrints` is unaffected.
 */
export function installPrintCapture(): void {
  if (printCaptureInstalled) return;
  printCaptureInstalled = true;
  for (const method of Object.keys(PRINT_LEVELS) as ConsoleMethod[]) {
    const original = console[method];
    console[method] = function captured(this: Console, ...args: unknown[]) {
      const run = currentRun();
      if (run?.logPrints) {
        const store = currentStore();
        emit(
          {
            kind: run.kind,
            runName: run.kind === "flow" ? run.flowRun.name : run.taskRun.name,
            flowRunId: store?.flow?.flowRun.id ?? (run.kind === "task" ? run.taskRun.flow_run_id : null),
            taskRunId: run.kind === "task" ? run.taskRun.id : null,
            shipper: run.session.logs,
            settings: store?.flow?.settings,
          },
          PRINT_LEVELS[method],
          format(...args),
          false,
        );
      }
      original.apply(this, args);
    };
  }
}
