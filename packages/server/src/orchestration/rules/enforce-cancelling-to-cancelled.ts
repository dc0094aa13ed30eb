import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";

/** A run being cancelled has only one way out: CANCELLED. */
export const enforceCancellingToCancelled: OrchestrationRule = {
  name: "EnforceCancellingToCancelledTransition",
  from: ["CANCELLING"],
  to: ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED", "PAUSED", "CANCELLING"],
  before() {
    return reject("A cancelling run can only become CANCELLED.");
  },
};
