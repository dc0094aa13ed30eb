import { AsyncLocalStorage } from "node:async_hooks";
import type { FlowRun, TaskRun } from "@baton/core";
import type { ApiSession } from "./ephemeral.js";
import type { FlowResultOptions } from "./engine/results.js";
import type { Settings } from "./settings.js";
import type { RunLogger } from "./logger.js";

/**
 * The run context travels with the async call chain (AsyncLocalStorage), so a task knows the
 * flow run it belongs to, a flow called inside a flow knows its parent, and `getRunLogger()`
 * knows which run to log for, without anything passed by hand.
 */

/** What a flow run's code sees while one attempt of it runs. */
export interface FlowRunContext {
  readonly kind: "flow";
  readonly flowName: string;
  /** The run as last known here: `state` and `run_count` follow the states this process set. */
  readonly flowRun: FlowRun;
  readonly session: ApiSession;
  readonly logger: RunLogger;
  readonly logPrints: boolean;
  /** Aborted when the attempt times out. */
  readonly signal: AbortSignal;
  /** Per task key, the next `dynamic_key` in this attempt. */
  readonly dynamicKeys: Map<string, number>;
  /** Submitted task runs not yet settled; the flow run waits for them before it finishes. */
  readonly pending: Set<Promise<unknown>>;
  /** The flow's result options, which its tasks inherit. */
  readonly results?: FlowResultOptions;
  /** The SDK settings as the attempt started: its task runs read them from here, not the environment each time. */
  readonly settings?: Settings;
}

/** What a task run's code sees. */
export interface TaskRunContext {
  readonly kind: "task";
  readonly taskName: string;
  readonly taskRun: TaskRun;
  readonly session: ApiSession;
  readonly logger: RunLogger;
  readonly logPrints: boolean;
  readonly signal: AbortSignal;
  /** Task runs submitted by this task when it runs outside any flow. */
  readonly pending: Set<Promise<unknown>>;
}

export interface RunStore {
  /** The innermost flow run. */
  readonly flow: FlowRunContext | undefined;
  /** The innermost task run inside that flow run (or outside any flow). */
  readonly task: TaskRunContext | undefined;
}

export const runStore = new AsyncLocalStorage<RunStore>();

export function currentStore(): RunStore | undefined {
  return runStore.getStore();
}

/** The run whose code is executing now: the task run if there is one, else the flow run. */
export function currentRun(): FlowRunContext | TaskRunContext | undefined {
  const store = runStore.getStore();
  return store?.task ?? store?.flow;
}

/** Next `dynamic_key` for a task key in a flow run attempt: "0", "1", ... */
export function nextDynamicKey(ctx: FlowRunContext, taskKey: string): string {
  const n = ctx.dynamicKeys.get(taskKey) ?? 0;
  ctx.dynamicKeys.set(taskKey, n + 1);
  return String(n);
}

/** The public view of the run context. */
export interface RunContext {
  /** The innermost flow run, with `run_count` and `state` as of the current attempt. */
  flowRun: FlowRun | undefined;
  /** The task run executing now, if any. */
  taskRun: TaskRun | undefined;
  /** Aborted when the current attempt times out: pass it to `fetch` and the like. */
  signal: AbortSignal | undefined;
}

/**
 * The current flow run and task run, or `undefined`s outside a run.
 *
 * @example
 * import { getRunContext, task } from "@baton/sdk";
 * const flaky = task({ retries: 1 }, function flaky() {
 *   if (getRunContext().taskRun?.run_count === 1) throw new Error("first attempt fails");
 *   return "ok";
 * });
 */
export function getRunContext(): RunContext {
  const store = runStore.getStore();
  return {
    flowRun: store?.flow?.flowRun,
    taskRun: store?.task?.taskRun,
    signal: (store?.task ?? store?.flow)?.signal,
  };
}
