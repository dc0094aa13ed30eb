import { STATE_TYPES, StateDetails, TaskRunPolicy, TaskRunStateEventPayload, type StateType } from "@baton/core";
import { isCanonicalTime, isLowerId as isId, isObject } from "../validation/hot-bodies.js";

/**
 * The task run recorder's hot path: a check of the payload of a `prefect.task-run.*` event as
 * the SDK sends it (canonical timestamps, lower-case ids, an empty `state_details`, inputs
 * without upstream runs), giving what `TaskRunStateEventPayload` would parse, without zod's
 * cost per field (a fifth of the server's time for a 5,000-task map). Anything else, valid or
 * not, returns undefined and goes through the zod schema, which also names a bad field.
 */
export function parseCommonPayload(payload: Record<string, unknown>): TaskRunStateEventPayload | undefined {
  const run = payload.task_run;
  const state = payload.validated_state;
  if (!isObject(run) || !isObject(state)) return undefined;
  if (payload.intended !== undefined && !isIntended(payload.intended)) return undefined;
  if (!isId(run.id) || !isName(run.name, 1) || !isName(run.task_key, 1) || !isName(run.dynamic_key, 0)) return undefined;
  if (!(run.flow_run_id == null || isId(run.flow_run_id))) return undefined;
  if (!optionalText(run.cache_key, 5000) || !optionalText(run.task_version, Infinity) || run.labels != null) return undefined;
  for (const key of TIMESTAMPS) if (!(run[key] == null || isCanonicalTime(run[key]))) return undefined;
  if (!countOrUndefined(run.run_count) || !countOrUndefined(run.flow_run_run_count)) return undefined;
  if (!(run.total_run_time === undefined || (typeof run.total_run_time === "number" && Number.isFinite(run.total_run_time) && run.total_run_time >= 0))) return undefined;
  if (!(run.tags === undefined || (Array.isArray(run.tags) && run.tags.length <= 200 && run.tags.every((t) => typeof t === "string" && t.length <= 500)))) return undefined;
  // Inputs fed by no upstream run (the common case) are kept as they are; others go to zod.
  if (!(run.task_inputs === undefined || (isObject(run.task_inputs) && Object.values(run.task_inputs).every((v) => Array.isArray(v) && v.length === 0)))) return undefined;
  const policy = run.empirical_policy === undefined ? DEFAULT_POLICY : plainPolicy(run.empirical_policy);
  if (policy === undefined) return undefined;

  if (typeof state.type !== "string" || !STATE_TYPE_SET.has(state.type)) return undefined;
  if (!(state.name == null || (typeof state.name === "string" && state.name.length <= 5000)) || !(state.message == null || typeof state.message === "string")) return undefined;
  let details: StateDetails | undefined;
  if (isObject(state.state_details) && Object.keys(state.state_details).length === 0) details = {};
  else if (state.state_details !== undefined) {
    const parsed = StateDetails.safeParse(state.state_details);
    if (!parsed.success) return undefined;
    details = parsed.data;
  }
  return {
    task_run: {
      id: run.id,
      name: run.name,
      flow_run_id: (run.flow_run_id as string | null | undefined) ?? null,
      task_key: run.task_key,
      dynamic_key: run.dynamic_key,
      cache_key: (run.cache_key as string | null | undefined) ?? null,
      cache_expiration: (run.cache_expiration as string | null | undefined) ?? null,
      task_version: (run.task_version as string | null | undefined) ?? null,
      empirical_policy: policy,
      tags: (run.tags as string[] | undefined) ?? [],
      labels: null,
      task_inputs: (run.task_inputs as Record<string, never[]> | undefined) ?? {},
      run_count: (run.run_count as number | undefined) ?? 0,
      flow_run_run_count: (run.flow_run_run_count as number | undefined) ?? 0,
      created: (run.created as string | null | undefined) ?? null,
      expected_start_time: (run.expected_start_time as string | null | undefined) ?? null,
      next_scheduled_start_time: (run.next_scheduled_start_time as string | null | undefined) ?? null,
      start_time: (run.start_time as string | null | undefined) ?? null,
      end_time: (run.end_time as string | null | undefined) ?? null,
      total_run_time: (run.total_run_time as number | undefined) ?? 0,
    },
    validated_state: {
      type: state.type as StateType,
      name: state.name as string | null | undefined,
      message: state.message as string | null | undefined,
      data: state.data,
      state_details: details,
    },
  };
}

const TIMESTAMPS = ["cache_expiration", "created", "expected_start_time", "next_scheduled_start_time", "start_time", "end_time"] as const;
const STATE_TYPE_SET = new Set<string>(STATE_TYPES);

const DEFAULT_POLICY: TaskRunPolicy = TaskRunPolicy.parse({});

/** A retry policy of plain numbers, as `TaskRunPolicy` would parse it (defaults filled in, other keys dropped). */
function plainPolicy(value: unknown): TaskRunPolicy | undefined {
  if (!isObject(value)) return undefined;
  const { max_retries = 0, retry_delay_seconds = 0, retries = null, retry_delay = null, retry_jitter_factor = null } = value;
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= 1_000_000;
  const seconds = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 0;
  if (!count(max_retries) || !seconds(retry_delay_seconds) || !(retries === null || count(retries))) return undefined;
  if (!(retry_delay === null || seconds(retry_delay) || (Array.isArray(retry_delay) && retry_delay.every(seconds)))) return undefined;
  if (!(retry_jitter_factor === null || seconds(retry_jitter_factor))) return undefined;
  return { max_retries, retry_delay_seconds, retries, retry_delay, retry_jitter_factor } as TaskRunPolicy;
}

function isName(value: unknown, min: number): value is string {
  return typeof value === "string" && value.length >= min && value.length <= 5000;
}

function optionalText(value: unknown, max: number): boolean {
  return value == null || (typeof value === "string" && value.length <= max);
}

function countOrUndefined(value: unknown): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);
}

function isIntended(value: unknown): boolean {
  if (!isObject(value)) return false;
  return (value.from === undefined || value.from === null || typeof value.from === "string") && (value.to === undefined || typeof value.to === "string");
}

/** The zod parse, for everything the hot path does not take. */
export function parsePayload(payload: Record<string, unknown>) {
  const fast = parseCommonPayload(payload);
  return fast ? ({ success: true, data: fast } as const) : TaskRunStateEventPayload.safeParse(payload);
}
