import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { importModule, TaskRun, type TaskRun as TaskRunType } from "@baton/core";
import type { WebSocket as WsSocket } from "ws";
import { MissingParametersError, parametersStore } from "./background/parameters-store.js";
import { drainOnSignal } from "./engine/crash.js";
import { argumentsFromParameters } from "./engine/parameters.js";
import { proposeState, type RunTarget } from "./engine/states.js";
import { runTaskRun, type TaskDefinition } from "./engine/task-engine.js";
import { openSession, type ApiSession } from "./ephemeral.js";
import { BackgroundTasksNeedServerError, InvalidOptionError, RetryHandedOffError, RunAbortedError, TaskRunFailedError } from "./errors.js";
import { describeError } from "./results/serializer.js";
import { currentSettings, LOG_LEVEL_NAMES, type LogLevelName } from "./settings.js";
import type { TaskFunction } from "./task.js";

export interface TaskWorkerOptions {
  /** Most task runs executing at once in this worker (default: no limit). */
  limit?: number;
  /** Aborting it stops the worker: no more runs are taken, and runs in progress finish. */
  signal?: AbortSignal;
  /**
   * SIGINT/SIGTERM stop the worker the same way (default true); a second signal marks the
   * runs still in progress CRASHED and ends the process.
   */
  handleSignals?: boolean;
  /** How the worker names itself to the server (`POST /task_workers/filter`); default: host, pid and a random part. */
  clientId?: string;
}

/** Anything made with `task()`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTask = TaskFunction<any, any>;

/** Pauses before reconnecting after a lost connection: doubling from 0.5 s up to 10 s. */
const FIRST_RECONNECT_MS = 500;
const MAX_RECONNECT_MS = 10_000;

/**
 * Runs background task runs (`task.delay()`) of the given tasks in this process, as Prefect's
 * `serve(*tasks)` task worker: subscribes to the server's websocket of scheduled background
 * task runs for the tasks' keys, claims each run it receives (PENDING: of many workers, one
 * claim is accepted and only that worker runs it), reads its parameters, and runs it through
 * the task engine (states, logs, timeouts, hooks), at most `limit` at once. A failed run with
 * retries left goes back to the server's queue (AwaitingRetry), for whichever worker is free
 * when its retry is due. A lost connection is reopened with backoff. Resolves once the worker
 * has stopped (`signal` aborted, or SIGINT/SIGTERM) and the runs in progress have finished.
 *
 * @example
 * import { serveTasks, task } from "@baton/sdk";
 *
 * const resize = task({ retries: 2 }, async function resize(path: string, width: number) { ... });
 * const notify = task(async function notify(user: string) { ... });
 *
 * await serveTasks(resize, notify, { limit: 8 });
 * // elsewhere: await resize.delay("a.png", 200).result()
 */
export async function serveTasks(...items: Array<AnyTask | TaskWorkerOptions>): Promise<void> {
  const last = items[items.length - 1];
  const options: TaskWorkerOptions = last !== undefined && typeof last !== "function" ? (last as TaskWorkerOptions) : {};
  const tasks = (typeof last === "function" ? items : items.slice(0, -1)) as unknown[];
  const definitions = new Map<string, TaskDefinition<unknown[], unknown>>();
  tasks.forEach((item, index) => {
    if (typeof item !== "function" || typeof (item as Partial<AnyTask>).taskKey !== "string" || typeof (item as Partial<AnyTask>).fn !== "function") {
      throw new InvalidOptionError(`serveTasks: argument ${index + 1}`, "must be a task made with task() from @baton/sdk (options go last)");
    }
    const t = item as AnyTask;
    definitions.set(t.taskKey, { name: t.name, taskKey: t.taskKey, fn: t.fn, options: t.options });
  });
  if (definitions.size === 0) throw new InvalidOptionError("serveTasks", "give at least one task to serve");
  const limit = options.limit ?? Infinity;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) throw new InvalidOptionError("serveTasks.options.limit", "must be a whole number of at least 1");
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidOptionError("serveTasks.options.signal", "must be an AbortSignal");
  if (currentSettings().apiUrl === undefined) throw new BackgroundTasksNeedServerError("serveTasks()");
  if (options.signal?.aborted) return;

  const session = await openSession();
  const worker = new TaskWorker(session, definitions, limit, options.clientId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`);
  const onAbort = () => worker.stop("the abort signal fired");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const giveBackSignals =
    (options.handleSignals ?? true)
      ? drainOnSignal((signal) => worker.stop(`${signal} received (send it again to mark the runs in progress CRASHED and exit at once)`))
      : undefined;
  try {
    await worker.run();
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    giveBackSignals?.();
    await session.release();
  }
}

class TaskWorker {
  readonly #log = workerLogger();
  readonly #running = new Set<Promise<void>>();
  readonly #slotWaiters: Array<() => void> = [];
  readonly #stopped = new AbortController();
  #socket: WsSocket | undefined;

  constructor(
    private readonly session: ApiSession,
    private readonly tasks: Map<string, TaskDefinition<unknown[], unknown>>,
    private readonly limit: number,
    readonly clientId: string,
  ) {}

  stop(reason: string): void {
    if (this.#stopped.signal.aborted) return;
    this.#log.info(`Stopping: ${reason}; ${this.#running.size} run(s) in progress will finish`);
    this.#stopped.abort();
    this.#socket?.close(1000, "task worker stopping");
    for (const wake of this.#slotWaiters.splice(0)) wake();
  }

  async run(): Promise<void> {
    const keys = [...this.tasks.keys()];
    this.#log.info(`Serving ${keys.length} task(s) as '${this.clientId}': ${keys.join(", ")}${this.limit === Infinity ? "" : `; running at most ${this.limit} at once`}`);
    let pause = FIRST_RECONNECT_MS;
    while (!this.#stopped.signal.aborted) {
      let subscribed = false;
      try {
        await this.#connection(keys, () => {
          subscribed = true;
          pause = FIRST_RECONNECT_MS;
        });
      } catch (error) {
        if (this.#stopped.signal.aborted) break;
        this.#log.warning(`${subscribed ? "Lost the connection" : "Could not subscribe"} to ${this.session.client.apiUrl}: ${describeError(error)}; trying again in ${pause / 1000} s`);
      }
      if (this.#stopped.signal.aborted) break;
      await abortableSleep(pause, this.#stopped.signal);
      pause = Math.min(pause * 2, MAX_RECONNECT_MS);
    }
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    this.#log.info("Stopped");
  }

  /** One connection: subscribe, then take runs until it closes (resolves) or fails (throws). */
  async #connection(keys: string[], onSubscribed: () => void): Promise<void> {
    const { WebSocket } = await importModule<typeof import("ws")>(import.meta.resolve("ws"));
    const url = `${this.session.client.apiUrl.replace(/^http/, "ws")}/task_runs/subscriptions/scheduled`;
    const socket = new WebSocket(url, ["prefect"]);
    this.#socket = socket;
    let chain = Promise.resolve();
    let handshake: "auth" | "subscribed" = "auth";
    try {
      await new Promise<void>((resolve, reject) => {
        socket.on("open", () => socket.send(JSON.stringify({ type: "auth", token: null })));
        socket.on("error", reject);
        socket.on("close", (code, reason) => {
          if (this.#stopped.signal.aborted || (handshake === "subscribed" && code === 1000)) resolve();
          else reject(new Error(`the server closed the connection (${code}${reason.length > 0 ? `: ${reason.toString()}` : ""})`));
        });
        socket.on("message", (data) => {
          if (handshake === "auth") {
            const answer = parseJson(data.toString());
            if ((answer as { type?: unknown } | undefined)?.type !== "auth_success") {
              socket.close(1008, "expected auth_success");
              return;
            }
            handshake = "subscribed";
            socket.send(JSON.stringify({ type: "subscribe", keys, client_id: this.clientId }));
            onSubscribed();
            return;
          }
          // One run at a time: the server sends the next one only after the ack.
          const text = data.toString();
          chain = chain.then(() => this.#offered(socket, text));
        });
      });
    } finally {
      this.#socket = undefined;
      await chain;
    }
  }

  /** A run the server offers: wait for a free slot, claim it, start it, then acknowledge. */
  async #offered(socket: WsSocket, text: string): Promise<void> {
    const parsed = TaskRun.safeParse(parseJson(text));
    if (!parsed.success) {
      this.#log.error(`The server sent something that is not a task run; closing the connection: ${parsed.error.message.slice(0, 200)}`);
      socket.close(4001, "expected a task run");
      return;
    }
    const taskRun = parsed.data;
    const def = this.tasks.get(taskRun.task_key);
    if (!def) {
      // Not ours (the server should not send it): decline so it goes to another worker.
      socket.send(JSON.stringify({ type: "quit" }));
      return;
    }
    await this.#slot();
    if (this.#stopped.signal.aborted || socket.readyState !== socket.OPEN) {
      this.#releaseSlot();
      return;
    }
    const target: RunTarget = { kind: "task", id: taskRun.id, client: this.session.client };
    let claimed: boolean;
    try {
      const result = await proposeState(target, { type: "PENDING", name: "Pending" });
      claimed = result.status === "ACCEPT";
      if (claimed && result.state) taskRun.state = result.state;
    } catch (error) {
      this.#releaseSlot();
      // Unacknowledged, so the server offers it again once this connection is gone.
      this.#log.warning(`Could not claim task run ${taskRun.id}: ${describeError(error)}; reconnecting`);
      socket.close(4000, "could not claim a task run");
      return;
    }
    if (!claimed) {
      this.#releaseSlot();
      this.#log.debug(`Task run '${taskRun.name}' was claimed by another task worker`);
    } else {
      const execution = this.#execute(def, taskRun).finally(() => {
        this.#running.delete(execution);
        this.#releaseSlot();
      });
      this.#running.add(execution);
    }
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: "ack" }));
  }

  async #execute(def: TaskDefinition<unknown[], unknown>, taskRun: TaskRunType): Promise<void> {
    this.#log.info(`Running task run '${taskRun.name}' (${taskRun.id})`);
    let args: unknown[];
    try {
      const parametersId = taskRun.state?.state_details.task_parameters_id;
      if (!parametersId) throw new MissingParametersError("(none)", "the run's state: it names no task_parameters_id");
      const stored = await parametersStore.read(parametersId);
      args = argumentsFromParameters(def.fn, stored.parameters);
    } catch (error) {
      const message = `Task run could not start: ${describeError(error)}`;
      this.#log.error(`Task run '${taskRun.name}': ${message}`);
      await proposeState({ kind: "task", id: taskRun.id, client: this.session.client }, { type: "FAILED", name: "Failed", message }).catch(() => undefined);
      return;
    }
    try {
      await runTaskRun(def, taskRun, args, this.session);
      this.#log.info(`Task run '${taskRun.name}' completed`);
    } catch (error) {
      if (error instanceof RetryHandedOffError) this.#log.info(`Task run '${taskRun.name}' failed; ${error.message}`);
      else if (error instanceof TaskRunFailedError) this.#log.info(`Task run '${taskRun.name}' finished in state ${error.state.name ?? error.state.type}`);
      else if (error instanceof RunAbortedError) this.#log.warning(`Task run '${taskRun.name}': ${error.message}`);
      else this.#log.error(`Task run '${taskRun.name}' failed in the task worker: ${describeError(error)}`);
    }
  }

  #active = 0;

  async #slot(): Promise<void> {
    while (this.#active >= this.limit && !this.#stopped.signal.aborted) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    this.#active++;
  }

  #releaseSlot(): void {
    this.#active--;
    this.#slotWaiters.shift()?.();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

interface WorkerLogger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

function workerLogger(): WorkerLogger {
  const line = (level: LogLevelName) => (message: string) => {
    const settings = currentSettings();
    if (!settings.consoleLogs || LOG_LEVEL_NAMES.indexOf(level) < LOG_LEVEL_NAMES.indexOf(settings.logLevel)) return;
    process.stderr.write(`${new Date().toISOString().slice(11, 23)} | ${level.toUpperCase().padEnd(8)} | task worker - ${message}\n`);
  };
  return { debug: line("debug"), info: line("info"), warning: line("warning"), error: line("error") };
}
