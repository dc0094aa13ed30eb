import { TERMINAL_STATE_TYPES } from "@baton/core";
import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";

/**
 * A finished run stays finished, with Prefect's exceptions so its clients behave the same:
 * it may not be moved to CANCELLING, PAUSED or CRASHED; a COMPLETED run whose result was
 * persisted is never reopened; a flow run without a deployment cannot go back to SCHEDULED
 * (nothing would pick it up). Engine retries (FAILED -> AwaitingRetry, decided by the retry
 * rules before this one writes) and `force` bypass it.
 */
export const handleTerminalTransitions: OrchestrationRule = {
  name: "HandleTerminalStateTransitions",
  from: TERMINAL_STATE_TYPES,
  to: "any",
  before({ run, initial, proposed }) {
    if (!initial) return;
    if (proposed.type === "CANCELLING" || proposed.type === "PAUSED" || proposed.type === "CRASHED") {
      return reject(`This run is already ${initial.type} and cannot be moved to ${proposed.type}.`);
    }
    if (initial.type === "COMPLETED" && hasPersistedResult(initial.data)) {
      return reject("This run has already completed and its result was persisted; it cannot be run again.");
    }
    if (run.kind === "flow_run" && proposed.type === "SCHEDULED" && !run.row.deployment_id) {
      return reject("A finished flow run without a deployment cannot be rescheduled: no worker would run it.");
    }
  },
};

/** A result counts as persisted when the state carries result data rather than nothing. */
export function hasPersistedResult(data: unknown): boolean {
  if (data === null || data === undefined) return false;
  if (typeof data === "object" && (data as { type?: unknown }).type === "unpersisted") return false;
  return true;
}
