import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";

/**
 * "Late" is a remark on a run still waiting to start. A run that was claimed or started
 * between the late-runs service reading it and proposing Late keeps its state.
 */
export const onlyScheduledRunsBecomeLate: OrchestrationRule = {
  name: "OnlyScheduledRunsBecomeLate",
  from: [null, "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING"],
  to: ["SCHEDULED"],
  before({ proposed }) {
    if (proposed.name === "Late") return reject("Only a Scheduled run can be marked Late.");
  },
};
