import type { TaskRunPolicy } from "@baton/core";
import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";
import { makeState } from "../state-factory.js";

/**
 * A task run that fails while it has retries left (and did not declare the failure
 * non-retriable) is sent back to Scheduled "AwaitingRetry" after its retry delay: the
 * delay for this attempt from a list, or the single delay, stretched by the jitter factor.
 */
export const retryFailedTasks: OrchestrationRule = {
  name: "RetryFailedTasks",
  from: ["RUNNING"],
  to: ["FAILED"],
  before({ run, proposed, now }) {
    if (run.kind !== "task_run") return;
    if (proposed.state_details.retriable === false) return;
    const retries = run.policy.retries ?? run.policy.max_retries;
    if (run.row.run_count > retries) return;
    const delaySeconds = taskRetryDelaySeconds(run.policy, run.row.run_count);
    const awaiting = makeState("SCHEDULED", "AwaitingRetry", now, {
      message: proposed.message,
      data: proposed.data,
      details: { ...proposed.state_details, scheduled_time: new Date(now.getTime() + delaySeconds * 1000).toISOString() },
    });
    return reject(`Retrying: attempt ${run.row.run_count} of ${retries + 1} failed.`, awaiting);
  },
};

export function taskRetryDelaySeconds(policy: TaskRunPolicy, runCount: number, random: () => number = Math.random): number {
  const configured = policy.retry_delay ?? policy.retry_delay_seconds;
  const base = Array.isArray(configured) ? (configured[Math.min(Math.max(runCount - 1, 0), configured.length - 1)] ?? 0) : configured;
  const jitter = policy.retry_jitter_factor ?? 0;
  return base + base * jitter * random();
}
