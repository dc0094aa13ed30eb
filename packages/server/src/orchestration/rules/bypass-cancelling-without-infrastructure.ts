import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";
import { makeState } from "../state-factory.js";

/**
 * CANCELLING asks the run's infrastructure to stop. A flow run with no infrastructure
 * (never started by a worker, or still scheduled) has nothing to stop, so it is cancelled
 * at once instead of waiting for a worker that will never answer.
 */
export const bypassCancellingWithoutInfrastructure: OrchestrationRule = {
  name: "BypassCancellingFlowRunsWithNoInfrastructure",
  from: [null, "SCHEDULED", "PENDING", "RUNNING", "PAUSED"],
  to: ["CANCELLING"],
  before({ run, initial, proposed, now }) {
    if (run.kind !== "flow_run") return;
    const notStarted = initial === null || initial.type === "SCHEDULED" || initial.type === "PAUSED";
    if (run.row.infrastructure_pid && !notStarted) return;
    const cancelled = makeState("CANCELLED", "Cancelled", now, {
      message: proposed.message ?? "Cancelled: the run had no infrastructure to stop.",
      details: proposed.state_details,
    });
    return reject("The run has no infrastructure to stop, so it was cancelled directly.", cancelled);
  },
};
