import type { OrchestrationRule } from "../context.js";

/**
 * PENDING is the claim on a run: whoever moves it there will execute it. The run row is
 * locked (or the database serialised) while rules run, so of N concurrent claimants exactly
 * one sees a claimable state; the rest are told to abort, which clients treat as "someone
 * else has it".
 */
export const preventDuplicatePending: OrchestrationRule = {
  name: "PreventPendingTransitions",
  from: ["PENDING", "RUNNING", "CANCELLING", "CANCELLED"],
  to: ["PENDING"],
  before({ initial }) {
    return { status: "ABORT", reason: `This run is already ${initial?.type ?? "claimed"}; it cannot be claimed again.` };
  },
};
