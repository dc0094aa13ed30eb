import { isTerminal, type State } from "@baton/core";
import type { Updateable } from "kysely";
import type { RunColumns } from "../db/schema.js";
import { toJson } from "../db/json.js";
import type { OrchestratedRun } from "./context.js";

/**
 * The columns a run's new state changes, kept in one place for flow and task runs: the
 * denormalised current state, start/end times, run count, accumulated run time and the
 * expected/next scheduled start times.
 */
export function bookkeeping(run: OrchestratedRun, initial: State | null, next: State): Updateable<RunColumns> {
  const row = run.row;
  const now = next.timestamp;
  const initialType = initial?.type ?? null;
  const set: Updateable<RunColumns> = {
    updated: now,
    state_id: next.id,
    state_type: next.type,
    state_name: next.name,
    state_timestamp: now,
    state: toJson(next),
  };
  if (initialType === "RUNNING" && initial) {
    set.total_run_time = row.total_run_time + Math.max(0, (Date.parse(now) - Date.parse(initial.timestamp)) / 1000);
  }
  // A task run brought back from a finished state (its flow is being retried) starts its
  // attempts afresh, so it gets its own retries again, as in Prefect.
  const runCount = run.kind === "task_run" && isTerminal(initialType) && !isTerminal(next.type) ? 0 : row.run_count;
  if (runCount !== row.run_count) set.run_count = runCount;
  if (next.type === "RUNNING" && initialType !== "RUNNING") {
    if (!row.start_time) set.start_time = now;
    // Resuming from a pause continues the same attempt; anything else is a new attempt.
    if (initialType !== "PAUSED") set.run_count = runCount + 1;
  }
  if (isTerminal(next.type)) set.end_time = now;
  else if (isTerminal(initialType)) set.end_time = null;
  const scheduledTime = next.type === "SCHEDULED" ? (next.state_details.scheduled_time ?? now) : null;
  if (!row.expected_start_time) set.expected_start_time = scheduledTime ?? now;
  set.next_scheduled_start_time = scheduledTime;
  return set;
}

