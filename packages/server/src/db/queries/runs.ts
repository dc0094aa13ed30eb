import { DEFAULT_FLOW_RUN_POLICY, DEFAULT_TASK_RUN_POLICY, type FlowRunPolicy, type State, type StateType, type TaskRunPolicy } from "@baton/core";
import type { RunColumns } from "../schema.js";
import { fromJson } from "../json.js";

/** Fields that flow runs and task runs compute the same way from their shared columns. */
export function runTiming(
  row: Pick<RunColumns, "state_type" | "state_timestamp" | "total_run_time" | "expected_start_time" | "start_time">,
  now: number,
) {
  const running = row.state_type === "RUNNING" && row.state_timestamp;
  const estimatedRunTime = row.total_run_time + (running ? Math.max(0, (now - Date.parse(row.state_timestamp!)) / 1000) : 0);
  let startDelta = 0;
  if (row.expected_start_time) {
    const expected = Date.parse(row.expected_start_time);
    if (row.start_time) startDelta = Math.max(0, (Date.parse(row.start_time) - expected) / 1000);
    else if (row.state_type === "SCHEDULED" || row.state_type === "PENDING") startDelta = Math.max(0, (now - expected) / 1000);
  }
  return { estimated_run_time: estimatedRunTime, estimated_start_time_delta: startDelta };
}

export function runState(row: RunColumns): State | null {
  return fromJson<State | null>(row.state, null);
}

export function runStateType(row: RunColumns): StateType | null {
  return row.state_type as StateType | null;
}

/** A stored retry policy with every field present (rows written before a field existed lack it). */
export function flowRunPolicy(row: { empirical_policy: string }): FlowRunPolicy {
  return { ...DEFAULT_FLOW_RUN_POLICY, ...fromJson<Partial<FlowRunPolicy>>(row.empirical_policy, {}) };
}

export function taskRunPolicy(row: { empirical_policy: string }): TaskRunPolicy {
  return { ...DEFAULT_TASK_RUN_POLICY, ...fromJson<Partial<TaskRunPolicy>>(row.empirical_policy, {}) };
}
