import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";
import { makeState } from "../state-factory.js";

/**
 * A flow run that fails while it has retries left is sent back to Scheduled "AwaitingRetry"
 * at now + its retry delay; the engine then waits and runs it again.
 */
export const retryFailedFlows: OrchestrationRule = {
  name: "RetryFailedFlows",
  from: ["RUNNING"],
  to: ["FAILED"],
  before({ run, proposed, now }) {
    if (run.kind !== "flow_run") return;
    const retries = run.policy.retries ?? run.policy.max_retries;
    if (run.row.run_count > retries) return;
    const delaySeconds = run.policy.retry_delay ?? run.policy.retry_delay_seconds;
    const retryAt = new Date(now.getTime() + delaySeconds * 1000);
    const awaiting = makeState("SCHEDULED", "AwaitingRetry", now, {
      message: proposed.message,
      data: proposed.data,
      details: { ...proposed.state_details, scheduled_time: retryAt.toISOString() },
    });
    return reject(`Retrying: attempt ${run.row.run_count} of ${retries + 1} failed.`, awaiting);
  },
};
