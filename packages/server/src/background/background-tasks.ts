import { isTerminal, type State, type TaskRun } from "@baton/core";
import type { EventStream } from "../events/event-stream.js";
import type { FastifyBaseLogger } from "fastify";
import type { Database } from "../db/database.js";
import { fromJson } from "../db/json.js";
import { readTaskRun } from "../db/queries/task-runs.js";
import { taskRetryDelaySeconds } from "../orchestration/rules/retry-failed-tasks.js";
import { setRunState } from "../orchestration/set-state.js";
import { TaskQueue, type QueuedTaskRun } from "./task-queue.js";

/** A connected task worker, as `POST /task_workers/filter` lists it. */
export interface TaskWorkerRecord {
  identifier: string;
  task_keys: string[];
  /** When it was last seen: subscribed, or acknowledged a run. */
  timestamp: string;
}

interface WorkerEntry {
  taskKeys: Set<string>;
  timestamp: Date;
  connections: number;
  /** Runs it acknowledged (and so claimed) that have not finished yet. */
  claimed: Set<string>;
  /** Set while it has no connection: when it fires, its claimed runs are given back. */
  graceTimer: NodeJS.Timeout | undefined;
}

/** The parts of a task run the queue needs. */
type QueueableRun = Pick<TaskRun, "id" | "task_key" | "flow_run_id" | "state">;

/**
 * Background task runs (`task.delay()`) on this server: the task queue that feeds the
 * `/task_runs/subscriptions/scheduled` websocket, the task workers connected to it, and the
 * runs each of them claimed.
 *
 * - A task run without a flow run whose state becomes SCHEDULED with `deferred` (created so,
 *   an AwaitingRetry, a run given back) is queued under its task key; the queue is restored
 *   from the database when the server starts.
 * - A worker that goes away (its last connection closed) and does not come back with the same
 *   client id within `taskWorkerGraceSeconds` loses the runs it claimed: a PENDING one (never
 *   started) is scheduled again, a RUNNING one is marked CRASHED and scheduled again if it has
 *   retries left (after its retry delay).
 *
 * The queue lives in this process: with several API servers on one database, a task worker
 * receives the runs created or retried through the server it is connected to (and, after a
 * restart, every waiting run).
 */
export class BackgroundTasks {
  readonly queue = new TaskQueue();
  readonly #workers = new Map<string, WorkerEntry>();
  readonly #ownerOf = new Map<string, string>();
  #closed = false;

  constructor(
    private readonly db: Database,
    private readonly graceSeconds: number,
    private readonly logger: FastifyBaseLogger,
    private readonly events?: EventStream,
  ) {}

  /** Queues every SCHEDULED background task run in the database. */
  async restore(): Promise<number> {
    const rows = await this.db.kysely
      .selectFrom("task_run")
      .select(["id", "task_key", "flow_run_id", "state"])
      .where("flow_run_id", "is", null)
      .where("state_type", "=", "SCHEDULED")
      .execute();
    let restored = 0;
    for (const row of rows) {
      const state = fromJson<State | null>(row.state, null);
      if (this.#queueIfWaiting({ id: row.id, task_key: row.task_key, flow_run_id: row.flow_run_id, state })) restored++;
    }
    return restored;
  }

  /**
   * Tells the queue of a task run's new state: queued when it is a background run waiting
   * for a worker, dropped from the queue otherwise, and from its worker's claims once finished.
   */
  noteState(run: QueueableRun): void {
    if (this.#queueIfWaiting(run)) return;
    this.queue.remove(run.task_key, run.id);
    if (run.state && isTerminal(run.state.type)) this.#release(run.id);
  }

  /** After a state change of `runId` whose new state may be a background run's. */
  async noteStateOf(runId: string, state: State | null | undefined): Promise<void> {
    if (state?.state_details.deferred !== true) return;
    const run = await readTaskRun(this.db.kysely, runId);
    if (run) this.noteState(run);
  }

  /** The run to deliver for a queue entry: re-read, and only while it still waits. */
  async deliverable(entry: QueuedTaskRun): Promise<TaskRun | undefined> {
    const run = await readTaskRun(this.db.kysely, entry.id);
    if (!run || !isWaiting(run)) return undefined;
    return run;
  }

  workerConnected(identifier: string, taskKeys: readonly string[]): void {
    let worker = this.#workers.get(identifier);
    if (!worker) {
      worker = { taskKeys: new Set(), timestamp: new Date(), connections: 0, claimed: new Set(), graceTimer: undefined };
      this.#workers.set(identifier, worker);
    }
    for (const key of taskKeys) worker.taskKeys.add(key);
    worker.connections++;
    worker.timestamp = new Date();
    if (worker.graceTimer) clearTimeout(worker.graceTimer);
    worker.graceTimer = undefined;
  }

  /** The worker acknowledged `runId`: it has claimed it (or found it taken). */
  acknowledged(identifier: string, runId: string): void {
    const worker = this.#workers.get(identifier);
    if (!worker) return;
    worker.timestamp = new Date();
    worker.claimed.add(runId);
    this.#ownerOf.set(runId, identifier);
  }

  workerDisconnected(identifier: string): void {
    const worker = this.#workers.get(identifier);
    if (!worker) return;
    worker.connections--;
    if (worker.connections > 0 || this.#closed) return;
    worker.graceTimer = setTimeout(() => void this.#workerGone(identifier), this.graceSeconds * 1000);
    worker.graceTimer.unref();
  }

  /** Connected task workers, those serving any of `taskKeys` when given (Prefect's filter). */
  listWorkers(taskKeys: readonly string[] | undefined): TaskWorkerRecord[] {
    const out: TaskWorkerRecord[] = [];
    for (const [identifier, worker] of this.#workers) {
      if (worker.connections === 0) continue;
      if (taskKeys && taskKeys.length > 0 && !taskKeys.some((key) => worker.taskKeys.has(key))) continue;
      out.push({ identifier, task_keys: [...worker.taskKeys].sort(), timestamp: worker.timestamp.toISOString() });
    }
    return out.sort((a, b) => a.identifier.localeCompare(b.identifier));
  }

  close(): void {
    this.#closed = true;
    for (const worker of this.#workers.values()) if (worker.graceTimer) clearTimeout(worker.graceTimer);
  }

  #queueIfWaiting(run: QueueableRun): boolean {
    if (!isWaiting(run)) return false;
    const scheduled = run.state?.state_details.scheduled_time;
    const dueAt = scheduled ? Date.parse(scheduled) : 0;
    this.queue.put({ id: run.id, taskKey: run.task_key, dueAt: Number.isNaN(dueAt) ? 0 : dueAt });
    return true;
  }

  #release(runId: string): void {
    const owner = this.#ownerOf.get(runId);
    if (owner === undefined) return;
    this.#ownerOf.delete(runId);
    this.#workers.get(owner)?.claimed.delete(runId);
  }

  async #workerGone(identifier: string): Promise<void> {
    const worker = this.#workers.get(identifier);
    if (!worker || worker.connections > 0 || this.#closed) return;
    this.#workers.delete(identifier);
    for (const runId of worker.claimed) {
      this.#ownerOf.delete(runId);
      try {
        await this.#giveBack(runId, identifier);
      } catch (error) {
        this.logger.warn({ taskRunId: runId, err: error }, "could not give back a background task run of a task worker that went away");
      }
    }
  }

  /** A claimed run of a worker that went away: scheduled again (or crashed, then retried). */
  async #giveBack(runId: string, identifier: string): Promise<void> {
    const run = await readTaskRun(this.db.kysely, runId);
    if (!run?.state) return;
    const gone = `its task worker '${identifier}' disconnected and did not come back within ${this.graceSeconds} s`;
    if (run.state.type === "SCHEDULED") {
      this.noteState(run);
      return;
    }
    if (run.state.type === "PENDING") {
      const result = await setRunState(this.db, "task_run", runId, { type: "SCHEDULED", name: "Scheduled", message: `Scheduled again: ${gone} before starting it.` }, { events: this.events });
      if (result.state) this.noteState({ ...run, state: result.state });
      return;
    }
    if (run.state.type !== "RUNNING") return;
    const crashed = await setRunState(this.db, "task_run", runId, { type: "CRASHED", name: "Crashed", message: `Task run marked as crashed: ${gone}.` }, { events: this.events });
    if (crashed.status !== "ACCEPT") return;
    this.logger.info({ taskRunId: runId }, `background task run crashed: ${gone}`);
    const policy = run.empirical_policy;
    const retries = policy.retries ?? policy.max_retries;
    if (run.run_count > retries) return;
    const delaySeconds = taskRetryDelaySeconds(policy, run.run_count);
    const retried = await setRunState(this.db, "task_run", runId, {
      type: "SCHEDULED",
      name: "AwaitingRetry",
      message: `Retrying after a crash (attempt ${run.run_count} of ${retries + 1}).`,
      state_details: { scheduled_time: new Date(Date.now() + delaySeconds * 1000).toISOString() },
    }, { events: this.events });
    if (retried.state) this.noteState({ ...run, state: retried.state });
  }
}

/** A background task run that waits for a worker: no flow run, SCHEDULED, deferred. */
function isWaiting(run: QueueableRun): boolean {
  return run.flow_run_id === null && run.state?.type === "SCHEDULED" && run.state.state_details.deferred === true;
}
