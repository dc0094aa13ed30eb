import type { OrchestrationRule } from "../context.js";

/**
 * Polling does not claim: two workers may be offered the same Scheduled run, one claims it
 * (PENDING) and may finish it before the other proposes PENDING too. A Completed run without
 * a persisted result may otherwise be reopened, so that late claim would run it a second
 * time. For runs in a work pool a claim from a finished state is refused like any claim of a
 * taken run (ABORT); rerunning a finished pool run goes through SCHEDULED, which workers
 * then claim as usual.
 */
export const preventStaleClaims: OrchestrationRule = {
  name: "PreventStaleWorkPoolClaims",
  from: ["COMPLETED", "FAILED", "CRASHED"],
  to: ["PENDING"],
  before({ run, initial }) {
    if (run.kind !== "flow_run" || run.row.work_pool_id === null) return;
    return { status: "ABORT", reason: `This run has already finished (${initial?.type ?? "terminal"}); it cannot be claimed again. Reschedule it to run it again.` };
  },
};
