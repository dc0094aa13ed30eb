import type { State } from "@baton/core";
import type { OrchestratedRun, OrchestrationRule } from "../context.js";

/**
 * A background task run (`task.delay()`): a task run without a flow run whose first state was
 * SCHEDULED with `state_details.deferred`. The server's task queue delivers it to a task
 * worker subscribed to its task key, and only the worker whose PENDING claim is accepted runs it.
 */
export function isBackgroundTaskRun(run: OrchestratedRun, state: State | null): boolean {
  return run.kind === "task_run" && run.row.flow_run_id === null && state?.state_details.deferred === true;
}

/**
 * Every state of a background task run keeps `deferred` and `task_parameters_id`, so that the
 * AwaitingRetry the retry rule builds from a FAILED proposal is still a background run with its
 * parameters: the task queue delivers it again and any task worker can run the retry.
 */
export const keepBackgroundTaskDetails: OrchestrationRule = {
  name: "KeepBackgroundTaskDetails",
  from: "any",
  to: "any",
  before(ctx) {
    if (!isBackgroundTaskRun(ctx.run, ctx.initial) || ctx.proposed.state_details.deferred === true) return;
    ctx.proposed = {
      ...ctx.proposed,
      state_details: {
        ...ctx.proposed.state_details,
        deferred: true,
        task_parameters_id: ctx.proposed.state_details.task_parameters_id ?? ctx.initial?.state_details.task_parameters_id ?? null,
      },
    };
  },
};

/**
 * A background task run is run by the task worker that claimed it (PENDING), once per claim:
 * RUNNING straight from SCHEDULED (an engine retrying in place while the queue has already
 * offered the AwaitingRetry to another worker) is refused, and so is a claim of a run that
 * has finished (a stale delivery), so that no run executes twice.
 */
export const claimBackgroundTaskRuns: OrchestrationRule = {
  name: "ClaimBackgroundTaskRuns",
  from: ["SCHEDULED", "COMPLETED", "FAILED", "CRASHED"],
  to: ["RUNNING", "PENDING"],
  before({ run, initial, proposed }) {
    if (!isBackgroundTaskRun(run, initial)) return;
    if (initial?.type === "SCHEDULED" && proposed.type === "RUNNING") {
      return { status: "ABORT", reason: "A background task run must be claimed (PENDING) by a task worker before it runs." };
    }
    if (initial?.type !== "SCHEDULED" && proposed.type === "PENDING") {
      return { status: "ABORT", reason: `This background task run has already finished (${initial?.type ?? "terminal"}); it cannot be claimed again.` };
    }
  },
};
