import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { ApiError, renderJobConfiguration, type FlowRun, type OrchestrationResult, type StateCreate, type WorkerFlowRunResponse, type WorkPool } from "@baton/core";
import { claimInOrder, isTransient, RETRY_PAUSES_MS, type BatonClient } from "@baton/sdk";

/** Where a worker reports what it does: one line per event. */
export interface WorkerLogger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

export interface BaseWorkerOptions {
  client: BatonClient;
  /** The pool to poll; created (with `workPoolType`) if it does not exist, as Prefect's workers do. */
  workPoolName: string;
  /** Only these queues of the pool; default all of them. */
  workQueueNames?: readonly string[];
  /** Default `<Type>Worker <uuid>`. */
  name?: string;
  /** Most flow runs this worker runs at once; default no limit (the pool's limit still applies). */
  limit?: number;
  /** Claim runs scheduled up to this many seconds ahead, so their process is ready on time (default 10). */
  prefetchSeconds?: number;
  /** Pause between polls (default 10). */
  querySeconds?: number;
  /** How often the worker tells the server it is alive (default 30). */
  heartbeatSeconds?: number;
  logger?: WorkerLogger;
}

/** The most runs one poll asks for (the API's largest page). */
const MAX_SCHEDULED_RUNS = 200;

/**
 * What every worker does, whatever runs the flow (a process, a container...): heartbeat,
 * poll the pool for due runs (`get_scheduled_flow_runs`, `scheduled_before` = now + prefetch),
 * claim each by proposing PENDING (ACCEPT: ours; anything else: another worker has it, or the
 * pool is full: not an error), and hand the claimed run to `executeRun`.
 *
 * A worker keeps nothing that matters in memory: runs are claimed through the server, their
 * processes send their own heartbeats, and whatever a worker must act on (a run being
 * cancelled) is read from the server on each poll. A worker killed and restarted loses no run.
 */
export abstract class BaseWorker {
  /** The pool type a missing pool is created with. */
  abstract readonly type: string;
  readonly name: string;
  readonly workPoolName: string;
  protected readonly client: BatonClient;
  protected readonly logger: WorkerLogger;
  private readonly workQueueNames: readonly string[] | undefined;
  private readonly limit: number | undefined;
  private readonly prefetchSeconds: number;
  private readonly querySeconds: number;
  private readonly heartbeatSeconds: number;
  /** Runs claimed by this worker and not yet finished. */
  private readonly active = new Map<string, Promise<void>>();
  private lastHeartbeat = 0;
  /** The pool as last read (at start, then with each heartbeat): its base job template is rendered for each run. */
  protected workPool: WorkPool | undefined;
  /** Set by `stop()`: claim nothing more. */
  private draining = false;
  /** Set once draining is over: the loop ends. */
  private closed = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private wakeRequested = false;

  constructor(options: BaseWorkerOptions, defaultNamePrefix: string) {
    this.client = options.client;
    this.workPoolName = options.workPoolName;
    this.workQueueNames = options.workQueueNames?.length ? options.workQueueNames : undefined;
    this.name = options.name ?? `${defaultNamePrefix} ${randomUUID()}`;
    this.limit = options.limit;
    this.prefetchSeconds = options.prefetchSeconds ?? 10;
    this.querySeconds = options.querySeconds ?? 10;
    this.heartbeatSeconds = options.heartbeatSeconds ?? 30;
    this.logger = options.logger ?? stderrLogger(this.name);
  }

  /** Runs one claimed flow run (already PENDING) until it ends. Errors are logged by the caller. */
  protected abstract executeRun(flowRun: FlowRun): Promise<void>;

  /** Done on every poll, also while draining (the process worker stops runs being cancelled). */
  protected async onPoll(): Promise<void> {}

  /** Ids of the runs this worker is running now. */
  activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  /**
   * Checks the pool (creating it if missing), sends a first heartbeat and starts polling.
   * Rejects if the server cannot be reached, so a misconfigured worker fails at once; once
   * started, errors talking to the server are logged and the next poll tries again.
   */
  async start(): Promise<void> {
    if (this.loop !== undefined) throw new Error("this worker has already been started");
    const pool = await this.ensureWorkPool();
    this.workPool = pool;
    if (pool.type !== this.type) {
      this.logger.warning(`Work pool '${pool.name}' is of type '${pool.type}', not '${this.type}'; running its flow runs anyway`);
    }
    await this.heartbeat();
    this.logger.info(
      `Started, polling work pool '${this.workPoolName}'` +
        `${this.workQueueNames ? ` (queues ${this.workQueueNames.join(", ")})` : ""} every ${this.querySeconds} s` +
        `${this.limit === undefined ? "" : `, running at most ${this.limit} flow run(s) at once`}`,
    );
    this.loop = this.pollLoop();
  }

  /**
   * Stops claiming runs and waits up to `graceSeconds` for the runs in progress to finish
   * (their cancellations are still handled meanwhile). Runs still going then are left to
   * their processes, which report their own states and heartbeats. Resolves with how many
   * were left.
   */
  async stop(graceSeconds: number): Promise<number> {
    this.draining = true;
    this.wake();
    if (this.active.size > 0) {
      this.logger.info(`Stopping: claiming no more runs; waiting up to ${graceSeconds} s for ${this.active.size} flow run(s) in progress`);
      const graceOver = new AbortController();
      const timer = delay(graceSeconds * 1000, undefined, { signal: graceOver.signal }).catch(() => undefined);
      await Promise.race([Promise.allSettled([...this.active.values()]), timer]);
      graceOver.abort();
    }
    this.closed = true;
    this.wake();
    await this.loop;
    const left = this.active.size;
    if (left > 0) this.logger.warning(`${left} flow run(s) still running; their processes go on without this worker`);
    this.logger.info("Stopped");
    return left;
  }

  private async pollLoop(): Promise<void> {
    while (!this.closed) {
      await this.guard("heartbeat", async () => {
        if (Date.now() - this.lastHeartbeat < this.heartbeatSeconds * 1000) return;
        await this.heartbeat();
        // Read again with each heartbeat, so that a change to the pool's base job template
        // applies to the runs claimed after it (start() has just read it).
        this.workPool = await this.client.request<WorkPool>("GET", this.poolPath);
      });
      await this.guard("checking for work to stop", () => this.onPoll());
      if (!this.draining) await this.guard("polling for flow runs", () => this.claimDueRuns());
      if (this.closed) break;
      if (this.wakeRequested) {
        this.wakeRequested = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.querySeconds * 1000);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  /** Ends the pause between polls now, or skips the next one if the loop is busy. */
  private wake(): void {
    if (this.wakeUp !== undefined) this.wakeUp();
    else this.wakeRequested = true;
  }

  /** A poll step that fails is logged, and the next poll tries again. */
  private async guard(what: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.logger.error(`Error ${what}: ${describe(error)}`);
    }
  }

  private async ensureWorkPool(): Promise<WorkPool> {
    try {
      return await this.client.request<WorkPool>("GET", this.poolPath);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    try {
      const pool = await this.client.request<WorkPool>("POST", "/work_pools/", { name: this.workPoolName, type: this.type });
      this.logger.info(`Work pool '${this.workPoolName}' did not exist; created it (type '${this.type}')`);
      return pool;
    } catch (error) {
      // Another worker created it at the same moment.
      if (error instanceof ApiError && error.status === 409) return this.client.request<WorkPool>("GET", this.poolPath);
      throw error;
    }
  }

  private async heartbeat(): Promise<void> {
    this.lastHeartbeat = Date.now();
    await this.client.request("POST", `${this.poolPath}/workers/heartbeat`, {
      name: this.name,
      heartbeat_interval_seconds: Math.max(1, Math.round(this.heartbeatSeconds)),
    });
  }

  private get poolPath(): string {
    return `/work_pools/${encodeURIComponent(this.workPoolName)}`;
  }

  /**
   * The job configuration for a run: the pool's base job template rendered with the run's job
   * variables (the deployment's, overridden by the run's own), defaults from the template, and
   * `{{ $NAME }}` from `environment` (the one the run's process starts from).
   */
  protected jobConfiguration(flowRun: FlowRun, environment: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
    return renderJobConfiguration(this.workPool?.base_job_template ?? {}, flowRun.job_variables ?? {}, environment);
  }

  /** Claims due runs, in the order the server lists them, while this worker has room. */
  private async claimDueRuns(): Promise<void> {
    let room = this.limit === undefined ? Infinity : this.limit - this.active.size;
    if (room <= 0) return;
    const scheduledBefore = new Date(Date.now() + this.prefetchSeconds * 1000).toISOString();
    const due = await this.client.request<WorkerFlowRunResponse[]>("POST", `${this.poolPath}/get_scheduled_flow_runs`, {
      scheduled_before: scheduledBefore,
      ...(this.workQueueNames ? { work_queue_names: this.workQueueNames } : {}),
      ...(room === Infinity ? {} : { limit: Math.min(room, MAX_SCHEDULED_RUNS) }),
    });
    const candidates = due.map((entry) => entry.flow_run).filter((run) => !this.active.has(run.id) && !isInProcessRetry(run));
    await claimInOrder(candidates, {
      hasRoom: (inFlight) => room - inFlight > 0 && !this.draining,
      claim: (run) => this.claim(run),
      onClaimed: (claimed) => {
        room--;
        this.submit(claimed);
      },
      // This run (deleted meanwhile, say) must not keep the others from being claimed.
      onError: (run, error) => this.logger.error(`Error claiming flow run '${run.name}' (${run.id}): ${describe(error)}`),
    });
  }

  /**
   * Proposes PENDING: the server accepts it for exactly one claimant. A request that failed in
   * flight is sent again with the same transition id; if the first had landed, the answer
   * carries our id, and the run is ours.
   */
  private async claim(run: FlowRun): Promise<FlowRun | undefined> {
    const transitionId = randomUUID();
    const proposal: StateCreate = { type: "PENDING", name: "Pending", state_details: { transition_id: transitionId } };
    let result: OrchestrationResult;
    for (let attempt = 0; ; attempt++) {
      try {
        result = await this.client.setFlowRunState(run.id, proposal);
        break;
      } catch (error) {
        // A claim whose request failed in flight is sent again after the client's pauses.
        const pause = RETRY_PAUSES_MS[attempt];
        if (pause === undefined || !isTransient(error)) throw error;
        await delay(pause);
      }
    }
    const state = result.state;
    const ours = result.status === "ACCEPT" || (state?.type === "PENDING" && state.state_details.transition_id === transitionId);
    if (!ours) {
      const reason = "reason" in result.details ? result.details.reason : undefined;
      this.logger.debug(`Flow run '${run.name}' not claimed (${result.status}${reason ? `: ${reason}` : ""}); another worker has it or the pool is full`);
      return undefined;
    }
    return { ...run, state, state_id: state?.id ?? run.state_id, state_type: "PENDING", state_name: "Pending" };
  }

  private submit(run: FlowRun): void {
    this.logger.info(`Claimed flow run '${run.name}' (${run.id})`);
    const execution = (async () => {
      try {
        await this.executeRun(run);
      } catch (error) {
        this.logger.error(`Flow run '${run.name}' (${run.id}): ${describe(error)}`);
      } finally {
        this.active.delete(run.id);
        // A slot is free: look for more work now rather than after the pause.
        if (!this.draining) this.wake();
      }
    })();
    this.active.set(run.id, execution);
  }
}

/**
 * A run waiting to be retried by the process it failed in (the server's answer to its FAILED
 * proposal) is not for a worker to start: Prefect marks those `retry_type: "in_process"`.
 */
function isInProcessRetry(run: FlowRun): boolean {
  return run.state_name === "AwaitingRetry" && run.empirical_policy.retry_type === "in_process";
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `HH:MM:SS.mmm | LEVEL    | Worker 'name' - message` on stderr, as the SDK prints run logs. */
export function stderrLogger(workerName: string, output: { write(text: string): unknown } = process.stderr, debug = false): WorkerLogger {
  const line = (level: string) => (message: string) => {
    output.write(`${new Date().toISOString().slice(11, 23)} | ${level.padEnd(8)} | Worker '${workerName}' - ${message}\n`);
  };
  return {
    debug: debug ? line("DEBUG") : () => undefined,
    info: line("INFO"),
    warning: line("WARNING"),
    error: line("ERROR"),
  };
}
