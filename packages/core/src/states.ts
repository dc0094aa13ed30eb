import { z } from "zod";
import { DateTime, Id } from "./primitives.js";
import { lazySchema } from "./lazy-schema.js";

export const STATE_TYPES = [
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
  "PAUSED",
  "CANCELLING",
] as const;
export const StateType = lazySchema(() => z.enum(STATE_TYPES));
export type StateType = z.infer<typeof StateType>;

export const TERMINAL_STATE_TYPES: readonly StateType[] = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"];
export function isTerminal(type: StateType | null | undefined): boolean {
  return type != null && TERMINAL_STATE_TYPES.includes(type);
}

/** The default display name of each state type ("RUNNING" is shown as "Running"). */
export function defaultStateName(type: StateType): string {
  switch (type) {
    case "SCHEDULED":
      return "Scheduled";
    case "PENDING":
      return "Pending";
    case "RUNNING":
      return "Running";
    case "COMPLETED":
      return "Completed";
    case "FAILED":
      return "Failed";
    case "CANCELLED":
      return "Cancelled";
    case "CRASHED":
      return "Crashed";
    case "PAUSED":
      return "Paused";
    case "CANCELLING":
      return "Cancelling";
    default:
      return assertNever(type);
  }
}

/** Named states that Prefect clients recognise by name on top of a state type. */
export const NamedStates = {
  Late: { type: "SCHEDULED", name: "Late" },
  AwaitingRetry: { type: "SCHEDULED", name: "AwaitingRetry" },
  AwaitingConcurrencySlot: { type: "SCHEDULED", name: "AwaitingConcurrencySlot" },
  Retrying: { type: "RUNNING", name: "Retrying" },
  Cached: { type: "COMPLETED", name: "Cached" },
  Suspended: { type: "PAUSED", name: "Suspended" },
  TimedOut: { type: "FAILED", name: "TimedOut" },
} as const satisfies Record<string, { type: StateType; name: string }>;

export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${String(value)}`);
}

export const StateDetails = lazySchema(() =>
  z.object({
    flow_run_id: Id.nullish(),
    task_run_id: Id.nullish(),
    child_flow_run_id: Id.nullish(),
    scheduled_time: DateTime.nullish(),
    cache_key: z.string().nullish(),
    cache_expiration: DateTime.nullish(),
    deferred: z.boolean().nullish(),
    untrackable_result: z.boolean().optional(),
    pause_timeout: DateTime.nullish(),
    pause_reschedule: z.boolean().optional(),
    pause_key: z.string().nullish(),
    run_input_keyset: z.record(z.string(), z.string()).nullish(),
    refresh_cache: z.boolean().nullish(),
    retriable: z.boolean().nullish(),
    transition_id: Id.nullish(),
    task_parameters_id: Id.nullish(),
    traceparent: z.string().nullish(),
    deployment_concurrency_lease_id: Id.nullish(),
  }));
export type StateDetails = z.infer<typeof StateDetails>;

/** Every state_details key with its default, as Prefect returns them, overlaid with `details`. */
export function completeStateDetails(details: StateDetails): StateDetails {
  return {
    flow_run_id: null,
    task_run_id: null,
    child_flow_run_id: null,
    scheduled_time: null,
    cache_key: null,
    cache_expiration: null,
    deferred: false,
    untrackable_result: false,
    pause_timeout: null,
    pause_reschedule: false,
    pause_key: null,
    run_input_keyset: null,
    refresh_cache: null,
    retriable: null,
    transition_id: null,
    task_parameters_id: null,
    traceparent: null,
    deployment_concurrency_lease_id: null,
    ...details,
  };
}

/** What a client proposes: `POST .../set_state` and the `state` of a create body. */
export const StateCreate = lazySchema(() =>
  z.object({
    type: StateType,
    name: z.string().max(5000).nullish(),
    message: z.string().nullish(),
    data: z.unknown().optional(),
    state_details: StateDetails.optional(),
    timestamp: DateTime.nullish(),
  }));
export type StateCreate = z.infer<typeof StateCreate>;

/** A state as the server stores and returns it. */
export const State = lazySchema(() =>
  z.object({
    id: Id,
    type: StateType,
    name: z.string().nullable(),
    timestamp: z.string(),
    message: z.string().nullable(),
    data: z.unknown().nullable(),
    state_details: StateDetails,
  }));
export type State = z.infer<typeof State>;

export const SetStateStatus = lazySchema(() => z.enum(["ACCEPT", "REJECT", "ABORT", "WAIT"]));
export type SetStateStatus = z.infer<typeof SetStateStatus>;

export const OrchestrationDetails = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.object({ type: z.literal("accept_details") }),
    z.object({ type: z.literal("wait_details"), delay_seconds: z.number().int(), reason: z.string().nullable() }),
    z.object({ type: z.literal("reject_details"), reason: z.string().nullable() }),
    z.object({ type: z.literal("abort_details"), reason: z.string().nullable() }),
  ]));
export type OrchestrationDetails = z.infer<typeof OrchestrationDetails>;

export const OrchestrationResult = lazySchema(() =>
  z.object({
    state: State.nullable(),
    status: SetStateStatus,
    details: OrchestrationDetails,
  }));
export type OrchestrationResult = z.infer<typeof OrchestrationResult>;

export const SetStateBody = lazySchema(() =>
  z.object({
    state: StateCreate,
    force: z.boolean().default(false),
  }));
export type SetStateBody = z.infer<typeof SetStateBody>;
