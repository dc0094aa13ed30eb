import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { LogLevel, type FlowRun, type StateCreate } from "@baton/core";
import { LogShipper } from "@baton/sdk";
import { BaseWorker, describe, type BaseWorkerOptions } from "./base-worker.js";
import { extraCaCertsNote } from "./extra-ca-certs.js";

export interface ProcessWorkerOptions extends BaseWorkerOptions {
  /**
   * The command that runs one flow run, given its id as a last argument: `baton flow-run
   * execute`, e.g. `[process.execPath, "/path/to/baton.js", "flow-run", "execute"]`.
   */
  command: readonly string[];
  /** After SIGTERM, how long a cancelled run's process has before SIGKILL (default 10). */
  cancelGraceSeconds?: number;
  /** The flow run processes' environment (default this process's); `BATON_API_URL` is set to the worker's server. */
  env?: NodeJS.ProcessEnv;
  /** Where the processes' output is echoed, each line prefixed with the run's name; default nowhere. */
  echo?: { write(text: string): unknown };
}

/** A line longer than this is cut: one runaway line must not make a log batch too large to send. */
const MAX_LINE_CHARS = 32_000;
/** Page size when reading the runs being cancelled (the API's largest). */
const CANCELLING_PAGE = 200;
/** How often a cancelled run's process is checked for having exited. */
const EXIT_CHECK_MS = 100;
/** After its exit, how long a process's output may take to drain before the run is reported. */
const OUTPUT_DRAIN_MS = 2000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs each flow run in a process of its own (`baton flow-run execute ID`), as Prefect's
 * process worker does:
 *
 * - The process is started detached, in its own process group, so that killing the worker
 *   (even with SIGKILL) leaves it running; its `infrastructure_pid` is recorded on the run as
 *   `<hostname>:<pid>`.
 * - What it gets comes from the pool's base job template rendered with the run's job
 *   variables (`renderJobConfiguration`): `env` over the worker's own environment,
 *   `working_dir` as its working directory, `stream_output: false` to not echo its output.
 * - Its stdout and stderr lines become the run's logs (`POST /logs/`, in batches).
 * - A non-zero exit or a signal, while the run is not finished, makes the run CRASHED; if the
 *   run had started (it reached RUNNING in this attempt), has retries left and a deployment,
 *   it is scheduled again (AwaitingRetry after its retry delay).
 * - On each poll, the runs of this pool being cancelled (CANCELLING) whose process is on this
 *   host get SIGTERM on their process group, SIGKILL after `cancelGraceSeconds`, and are then
 *   set CANCELLED. That list is read from the server, not memory, so a restarted worker also
 *   stops the processes its predecessor started.
 */
export class ProcessWorker extends BaseWorker {
  readonly type = "process";
  private readonly command: readonly string[];
  private readonly cancelGraceSeconds: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly echo: { write(text: string): unknown } | undefined;
  private readonly logs: LogShipper;
  private readonly host = hostname();
  /** This worker's own flow run processes, by run id. */
  private readonly processes = new Map<string, ChildProcess>();
  /** Runs whose process this worker is stopping now. */
  private readonly cancelling = new Set<string>();

  constructor(options: ProcessWorkerOptions) {
    super(options, "ProcessWorker");
    if (options.command.length === 0) throw new Error("ProcessWorker needs a command to run flow runs with");
    this.command = options.command;
    this.cancelGraceSeconds = options.cancelGraceSeconds ?? 10;
    this.env = { ...(options.env ?? process.env), BATON_API_URL: options.client.apiUrl };
    this.echo = options.echo;
    this.logs = new LogShipper(options.client);
  }

  /** As `BaseWorker.start`, then says what the flow run processes' environment will cost them, if anything. */
  override async start(): Promise<void> {
    await super.start();
    const note = extraCaCertsNote(this.env);
    if (note !== undefined) this.logger.info(note);
  }

  /** As `BaseWorker.stop`, then sends the output lines still waiting. */
  override async stop(graceSeconds: number): Promise<number> {
    const left = await super.stop(graceSeconds);
    await this.logs.flush();
    return left;
  }

  protected async executeRun(flowRun: FlowRun): Promise<void> {
    const [file, ...args] = this.command as [string, ...string[]];
    const job = this.jobConfiguration(flowRun, this.env);
    const jobEnv = stringRecord(job["env"]);
    const workingDir = job["working_dir"];
    if (typeof job["command"] === "string" && job["command"].trim() !== "") {
      this.logger.warning(`Flow run '${flowRun.name}': the job variable 'command' is not supported by this worker; running ${this.command.join(" ")} as always`);
    }
    // stream_output false: the lines still become the run's logs, only the echo is off.
    const echo = job["stream_output"] === false ? undefined : this.echo;
    const child = spawn(file, [...args, flowRun.id], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      cwd: typeof workingDir === "string" && workingDir !== "" ? workingDir : undefined,
      env: {
        ...this.env,
        ...jobEnv,
        // The SDK's own log records reach the API directly; echoed to stderr they would be sent twice.
        BATON_CONSOLE_LOGS: "false",
      },
    });
    const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    try {
      await once(child, "spawn");
    } catch (error) {
      await this.reportCrash(flowRun, `Flow run process could not be started (${this.command.join(" ")}): ${describe(error)}`);
      return;
    }
    const pid = child.pid!;
    this.processes.set(flowRun.id, child);
    try {
      const output = Promise.all([this.forwardLines(flowRun, child.stdout!, LogLevel.INFO, echo), this.forwardLines(flowRun, child.stderr!, LogLevel.WARNING, echo)]);
      await this.recordPid(flowRun, pid);
      this.logger.info(`Started process ${pid} for flow run '${flowRun.name}' (${flowRun.id})`);
      const exit = await exited;
      // A grandchild holding the pipes open must not hold up the report.
      await Promise.race([output, delay(OUTPUT_DRAIN_MS)]);
      await this.logs.flush();
      if (exit.code === 0) {
        this.logger.info(`Process ${pid} for flow run '${flowRun.name}' exited cleanly`);
        return;
      }
      this.logger.info(`Process ${pid} for flow run '${flowRun.name}' exited with ${describeExit(exit)}`);
      // The cancellation in progress reports the run.
      if (this.cancelling.has(flowRun.id)) return;
      await this.reportAbnormalExit(flowRun, `${this.host}:${pid}`, exit);
    } finally {
      this.processes.delete(flowRun.id);
    }
  }

  private async recordPid(flowRun: FlowRun, pid: number): Promise<void> {
    try {
      await this.client.updateFlowRun(flowRun.id, { infrastructure_pid: `${this.host}:${pid}` });
    } catch (error) {
      this.logger.warning(`Could not record process ${pid} on flow run '${flowRun.name}': ${describe(error)}; it cannot be cancelled through the server`);
    }
  }

  private async forwardLines(flowRun: FlowRun, stream: Readable, level: number, echo: { write(text: string): unknown } | undefined): Promise<void> {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    const name = level === LogLevel.INFO ? "baton.flow_runs.stdout" : "baton.flow_runs.stderr";
    for await (const raw of lines) {
      const line = raw.length > MAX_LINE_CHARS ? `${raw.slice(0, MAX_LINE_CHARS)}… (${raw.length - MAX_LINE_CHARS} more characters)` : raw;
      echo?.write(`${flowRun.name} | ${line}\n`);
      this.logs.enqueue({ name, level, message: line, timestamp: new Date().toISOString(), flow_run_id: flowRun.id, task_run_id: null });
    }
  }

  /**
   * The process died without finishing the run. What to do depends on the run's state now:
   * finished or rescheduled runs said their last word, and a run another process has taken
   * over (a retry left to the pool) is not ours to judge; a run being cancelled is
   * CANCELLED; anything else is CRASHED, and retried if it had started and has retries left.
   */
  private async reportAbnormalExit(claimed: FlowRun, infrastructurePid: string, exit: Exit): Promise<void> {
    const run = await this.client.readFlowRun(claimed.id);
    if (run.infrastructure_pid !== null && run.infrastructure_pid !== infrastructurePid) {
      // The process left the run to be retried by the pool, and another process has it now.
      this.logger.info(`Flow run '${run.name}' is now run by process ${run.infrastructure_pid}; nothing to report`);
      return;
    }
    switch (run.state_type) {
      case null:
      case "COMPLETED":
      case "FAILED":
      case "CANCELLED":
      case "SCHEDULED":
        return;
      case "CANCELLING":
        await this.markCancelled(run, `The flow run's process exited (${describeExit(exit)}) while the run was being cancelled.`);
        return;
      case "CRASHED":
        // The process reported its own crash (e.g. it was sent SIGTERM by someone else).
        break;
      case "PENDING":
      case "RUNNING":
      case "PAUSED": {
        const crashed = await this.reportCrash(run, `Flow run process exited with ${describeExit(exit)}.`);
        if (!crashed) return;
        break;
      }
    }
    // Only an attempt that reached RUNNING is retried: one that never started (a flow that
    // cannot be loaded) would fail the same way again, and forever, since only RUNNING counts.
    if (run.run_count > claimed.run_count) await this.retryCrashed(run.id);
  }

  private async reportCrash(run: FlowRun, message: string): Promise<boolean> {
    this.logger.error(`Flow run '${run.name}' (${run.id}): ${message} Marking it CRASHED`);
    const result = await this.client.setFlowRunState(run.id, { type: "CRASHED", name: "Crashed", message });
    return result.status === "ACCEPT";
  }

  /** As the server does for a FAILED run: while `run_count <= retries`, schedule another attempt. */
  private async retryCrashed(runId: string): Promise<void> {
    const run = await this.client.readFlowRun(runId);
    if (run.state_type !== "CRASHED" || run.deployment_id === null) return;
    const policy = run.empirical_policy;
    const retries = policy.retries ?? policy.max_retries;
    if (run.run_count > retries) return;
    const delaySeconds = policy.retry_delay ?? policy.retry_delay_seconds;
    const proposal: StateCreate = {
      type: "SCHEDULED",
      name: "AwaitingRetry",
      message: `Retrying after a crash (attempt ${run.run_count} of ${retries + 1}). ${run.state?.message ?? ""}`.trim(),
      state_details: { scheduled_time: new Date(Date.now() + delaySeconds * 1000).toISOString() },
    };
    const result = await this.client.setFlowRunState(run.id, proposal);
    if (result.status === "ACCEPT") this.logger.info(`Flow run '${run.name}' crashed and has retries left: scheduled again in ${delaySeconds} s`);
  }

  protected override async onPoll(): Promise<void> {
    for (const run of await this.cancellingRuns()) {
      if (this.cancelling.has(run.id)) continue;
      const pid = this.localPid(run);
      if (pid === undefined) continue;
      this.cancelling.add(run.id);
      void this.cancel(run, pid).finally(() => this.cancelling.delete(run.id));
    }
  }

  /**
   * The runs being cancelled, read page by page. They are few at any time: each soon becomes
   * CANCELLED, by its worker or by the server's cancellation cleanup. The pool is matched here
   * rather than in the filter so that any server speaking the contract will do.
   */
  private async cancellingRuns(): Promise<FlowRun[]> {
    const runs: FlowRun[] = [];
    for (let offset = 0; ; offset += CANCELLING_PAGE) {
      const page = await this.client.filterFlowRuns({ flow_runs: { state: { type: { any_: ["CANCELLING"] } } }, sort: "ID_DESC", offset, limit: CANCELLING_PAGE });
      runs.push(...page.filter((run) => run.work_pool_name === this.workPoolName));
      if (page.length < CANCELLING_PAGE) return runs;
    }
  }

  /** The run's process id, if it runs on this host. */
  private localPid(run: FlowRun): number | undefined {
    const recorded = run.infrastructure_pid;
    if (!recorded) return undefined;
    const separator = recorded.lastIndexOf(":");
    if (separator < 0 || recorded.slice(0, separator) !== this.host) return undefined;
    const pid = Number(recorded.slice(separator + 1));
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  }

  /** SIGTERM to the run's process group, SIGKILL after the grace period, then CANCELLED. */
  private async cancel(run: FlowRun, pid: number): Promise<void> {
    try {
      this.logger.info(`Cancelling flow run '${run.name}' (${run.id}): sending SIGTERM to process ${pid}`);
      let alive = signalGroup(pid, "SIGTERM");
      if (alive) alive = !(await this.waitForExit(run.id, pid, this.cancelGraceSeconds * 1000));
      if (alive) {
        this.logger.warning(`Process ${pid} of flow run '${run.name}' did not stop within ${this.cancelGraceSeconds} s; sending SIGKILL`);
        signalGroup(pid, "SIGKILL");
        await this.waitForExit(run.id, pid, 5000);
      }
      // Another worker on this host may have stopped it too; one of them reports it.
      if ((await this.client.readFlowRun(run.id)).state_type !== "CANCELLING") return;
      await this.markCancelled(run, "The flow run was cancelled: its process was stopped by the worker.");
    } catch (error) {
      this.logger.error(`Cancelling flow run '${run.name}' (${run.id}) failed: ${describe(error)}`);
    }
  }

  /** True once the process (and its group) has gone; a process of ours is also reaped. */
  private async waitForExit(runId: string, pid: number, timeoutMs: number): Promise<boolean> {
    const own = this.processes.get(runId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ownGone = own === undefined || own.exitCode !== null || own.signalCode !== null;
      if (ownGone && !signalGroup(pid, 0)) return true;
      if (Date.now() >= deadline) return false;
      await delay(EXIT_CHECK_MS);
    }
  }

  private async markCancelled(run: FlowRun, message: string): Promise<void> {
    const result = await this.client.setFlowRunState(run.id, { type: "CANCELLED", name: "Cancelled", message });
    if (result.status === "ACCEPT") this.logger.info(`Flow run '${run.name}' (${run.id}) cancelled`);
    else this.logger.warning(`Flow run '${run.name}' (${run.id}) was not set CANCELLED (${result.status}); it is ${result.state?.type ?? "unknown"}`);
  }
}

/** Sends a signal to a process group; false if no process of it is left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

function describeExit(exit: Exit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** The job configuration's `env` as a process environment takes it: text values; numbers and booleans as text; others dropped. */
function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const entries: Array<[string, string]> = [];
  for (const [name, item] of Object.entries(value)) {
    // A number or boolean (a template's `{{ workers }}` with an integer default) as its text, as Prefect does.
    if (typeof item === "string") entries.push([name, item]);
    else if (typeof item === "number" || typeof item === "boolean") entries.push([name, String(item)]);
  }
  return Object.fromEntries(entries);
}
