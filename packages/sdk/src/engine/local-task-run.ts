import { isTerminal, type State, type StateCreate, type StateType, type TaskRun, type TaskRunCreate, type TaskRunPolicy } from "@baton/core";
import type { BatonClient } from "../client.js";
import type { FlowRunContext } from "../context.js";
import { currentSettings } from "../settings.js";
import type { TaskOptions } from "../task.js";
import { trackRunning } from "./crash.js";
import type { EnterResult, FinishResult } from "./states.js";
import { isoTime } from "../iso-time.js";
import { localState, reporterFor, TaskRunEventWriter, type TaskRunReporter } from "./task-run-reporter.js";

/**
 * Client-side task orchestration (Prefect 3's): a task run of a flow run is orchestrated here,
 * in the process running it, instead of by a `set_state` round trip per state. Its states
 * (Pending, Running, Completed, Failed, AwaitingRetry, Retrying, Crashed) are decided by the
 * same rules the server would apply to such a run and reported as events (task-run-reporter.ts).
 *
 * Only runs nothing on the server needs to decide take this path (`orchestratedLocally`):
 * a cached task (a cache policy in effect: its cache lookups are in result storage, and its
 * COMPLETED state records its `cache_key` with the server) keeps the server path, tags may have tag concurrency limits (whose slots the
 * server hands out), a background task run belongs to the server's queue, and in a retried
 * or resumed flow run the server knows which calls already completed. All those keep the server path.
 */
export function orchestratedLocally(options: TaskOptions<never>, flowCtx: FlowRunContext | undefined, existing: TaskRun | undefined, cached: boolean): LocalTaskRun | undefined {
  if (flowCtx === undefined || existing !== undefined) return undefined;
  if (cached || (options.tags ?? []).length > 0) return undefined;
  // Only in a flow run's first attempt in its first process: a retried or resumed run may have
  // task runs from before, which the server matches by dynamic key to reuse their results.
  if (flowCtx.flowRun.run_count > 1 || flowCtx.flowRun.start_time !== null) return undefined;
  if (!(flowCtx.settings ?? currentSettings()).clientSideTaskOrchestration) return undefined;
  return new LocalTaskRun(reporterFor(flowCtx.session.client), flowCtx.session.client, flowCtx.flowRun);
}

export class LocalTaskRun {
  private run!: TaskRun;
  private events!: TaskRunEventWriter;
  private lastEventId: string | undefined;
  /** The latest timestamp given out (ms): the next one is later. */
  private lastMs = 0;
  /** When the run's current state began (ms), for the time it spent RUNNING. */
  private stateMs = 0;

  constructor(
    private readonly reporter: TaskRunReporter,
    private readonly client: BatonClient,
    private readonly flowRun: { id: string; name: string; run_count: number },
  ) {}

  /** The new run, PENDING (what `POST /task_runs/` would have answered). */
  create(input: TaskRunCreate & { id: string; name: string }): TaskRun {
    const ms = this.stamp();
    const now = isoTime(ms);
    this.run = {
      id: input.id,
      created: now,
      updated: now,
      name: input.name,
      flow_run_id: this.flowRun.id,
      task_key: input.task_key,
      dynamic_key: input.dynamic_key,
      cache_key: null,
      cache_expiration: null,
      task_version: input.task_version ?? null,
      empirical_policy: input.empirical_policy as TaskRunPolicy,
      tags: input.tags ?? [],
      labels: {},
      state_id: null,
      task_inputs: (input.task_inputs ?? {}) as TaskRun["task_inputs"],
      state_type: null,
      state_name: null,
      run_count: 0,
      flow_run_run_count: this.flowRun.run_count,
      expected_start_time: null,
      next_scheduled_start_time: null,
      start_time: null,
      end_time: null,
      total_run_time: 0,
      estimated_run_time: 0,
      estimated_start_time_delta: 0,
      state: null,
    };
    this.events = new TaskRunEventWriter(this.run, this.flowRun);
    this.set("PENDING", "Pending", ms);
    return { ...this.run };
  }

  enterRunning(options: { name: string; onState?: (state: State) => void }): EnterResult {
    const state = this.set("RUNNING", options.name);
    options.onState?.(state);
    return { outcome: "run", state };
  }

  /** COMPLETED is accepted; FAILED with retries left becomes AwaitingRetry, as the server's RetryFailedTasks rule does. */
  proposeFinal(proposal: StateCreate): FinishResult {
    const policy = this.run.empirical_policy;
    const retries = policy.retries ?? policy.max_retries;
    const details = proposal.state_details ?? {};
    if (proposal.type === "FAILED" && details.retriable !== false && this.run.run_count <= retries) {
      const ms = this.stamp();
      const delayMs = retryDelaySeconds(policy, this.run.run_count) * 1000;
      const state = this.set("SCHEDULED", "AwaitingRetry", ms, {
        message: proposal.message ?? null,
        data: proposal.data ?? null,
        state_details: { ...details, scheduled_time: new Date(ms + delayMs).toISOString() },
      });
      return { outcome: "retry", state };
    }
    const state = this.set(proposal.type, proposal.name ?? proposal.type, undefined, { message: proposal.message ?? null, data: proposal.data ?? null, state_details: details });
    return { outcome: "final", state };
  }

  /** Until the returned function is called, a SIGINT/SIGTERM reports this run CRASHED (and sends it at once). */
  track(): () => void {
    return trackRunning({ kind: "task", id: this.run.id, client: this.client }, async (message) => {
      if (isTerminal(this.run.state_type)) return;
      this.set("CRASHED", "Crashed", undefined, { message, data: null, state_details: {} });
      await this.reporter.flush();
    });
  }

  /** Moves the run to a new state, keeping the columns the server's bookkeeping would, and reports it. */
  private set(type: StateType, name: string, at?: number, extra?: Pick<State, "message" | "data" | "state_details">): State {
    const ms = at ?? this.stamp();
    const now = isoTime(ms);
    const state = localState(type, name, now, extra);
    const run = this.run;
    const previous = run.state;
    if (previous?.type === "RUNNING") run.total_run_time += Math.max(0, (ms - this.stateMs) / 1000);
    if (type === "RUNNING" && previous?.type !== "RUNNING") {
      run.start_time ??= now;
      run.run_count += 1;
    }
    if (isTerminal(type)) run.end_time = now;
    const scheduled = type === "SCHEDULED" ? (state.state_details.scheduled_time ?? now) : null;
    run.expected_start_time ??= scheduled ?? now;
    run.next_scheduled_start_time = scheduled;
    run.updated = now;
    run.state = state;
    run.state_id = state.id;
    run.state_type = type;
    run.state_name = name;
    this.reporter.report(this.events.write(run, state, { state: previous, eventId: this.lastEventId }));
    this.lastEventId = state.id;
    this.stateMs = ms;
    return state;
  }

  /** Now (ms), but always after this run's previous state: the recorder orders a run's states by timestamp. */
  private stamp(): number {
    this.lastMs = Math.max(Date.now(), this.lastMs + 1);
    return this.lastMs;
  }
}

function retryDelaySeconds(policy: TaskRunPolicy, runCount: number): number {
  const configured = policy.retry_delay ?? policy.retry_delay_seconds;
  const base = Array.isArray(configured) ? (configured[Math.min(Math.max(runCount - 1, 0), configured.length - 1)] ?? 0) : configured;
  const jitter = policy.retry_jitter_factor ?? 0;
  return base + base * jitter * Math.random();
}
