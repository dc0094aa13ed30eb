import { z } from "zod";
import { DateTime, Id, Int32, JsonObject, Name } from "../primitives.js";
import { StateType } from "../states.js";
import { FlowRun } from "./flow-run.js";
import { MAX_FILTER_LIMIT, MAX_FILTER_VALUES } from "./filters.js";
import { lazySchema } from "../lazy-schema.js";

/**
 * Work pools, their queues and the workers that poll them, field for field as in the
 * contract (`WorkPoolCreate`, `WorkPoolResponse`, `WorkQueueResponse`, `WorkerResponse`...).
 */

export const WorkPoolStatus = lazySchema(() => z.enum(["READY", "NOT_READY", "PAUSED"]));
export type WorkPoolStatus = z.infer<typeof WorkPoolStatus>;
export const WorkQueueStatus = lazySchema(() => z.enum(["READY", "NOT_READY", "PAUSED"]));
export type WorkQueueStatus = z.infer<typeof WorkQueueStatus>;
export const WorkerStatus = lazySchema(() => z.enum(["ONLINE", "OFFLINE"]));
export type WorkerStatus = z.infer<typeof WorkerStatus>;

/** Flow-run states that hold a pool's or a queue's concurrency slot. */
export const SLOT_HOLDING_STATE_TYPES = ["PENDING", "RUNNING", "CANCELLING"] as const satisfies readonly StateType[];

/** The pool type whose pools `POST /work_queues/` fills: queues without a pool of their own. */
export const AGENT_POOL_TYPE = "prefect-agent";

export const WorkPoolStorageConfiguration = lazySchema(() =>
  z.strictObject({
    bundle_upload_step: JsonObject.nullish().transform((v) => v ?? null),
    bundle_execution_step: JsonObject.nullish().transform((v) => v ?? null),
    default_result_storage_block_id: Id.nullish().transform((v) => v ?? null),
  }));
export type WorkPoolStorageConfiguration = z.infer<typeof WorkPoolStorageConfiguration>;

/** Concurrency limits: a whole number of runs, 0 (nothing runs) or more, or null for none. */
const ConcurrencyLimit = lazySchema(() => Int32.min(0, "must be 0 or more"));

export const WorkPool = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    type: z.string(),
    base_job_template: JsonObject,
    is_paused: z.boolean(),
    concurrency_limit: z.number().int().nullable(),
    status: WorkPoolStatus.nullable(),
    default_queue_id: Id.nullable(),
    storage_configuration: WorkPoolStorageConfiguration,
    /** Runs holding a slot (Pending, Running, Cancelling); null when the pool has no limit. */
    active_slots: z.number().int().nullable(),
  }));
export type WorkPool = z.infer<typeof WorkPool>;

export const WorkPoolCreate = lazySchema(() =>
  z.strictObject({
    name: Name,
    description: z.string().nullish(),
    type: z.string().min(1, "must not be empty").max(5000).default(AGENT_POOL_TYPE),
    base_job_template: JsonObject.default({}),
    is_paused: z.boolean().default(false),
    concurrency_limit: ConcurrencyLimit.nullish(),
    storage_configuration: WorkPoolStorageConfiguration.prefault({}),
  }));
export type WorkPoolCreate = z.input<typeof WorkPoolCreate>;

/** A partial update: only the fields sent change. */
export const WorkPoolUpdate = lazySchema(() =>
  z.strictObject({
    description: z.string().nullish(),
    is_paused: z.boolean().nullish(),
    base_job_template: JsonObject.nullish(),
    concurrency_limit: ConcurrencyLimit.nullish(),
    storage_configuration: WorkPoolStorageConfiguration.nullish(),
  }));
export type WorkPoolUpdate = z.input<typeof WorkPoolUpdate>;

/** Deprecated in the contract; accepted and stored as nothing. */
export const QueueFilter = lazySchema(() =>
  z.strictObject({
    tags: z.array(z.string()).nullish(),
    deployment_ids: z.array(Id).nullish(),
  }));

export const WorkQueue = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    is_paused: z.boolean(),
    concurrency_limit: z.number().int().nullable(),
    priority: z.number().int(),
    work_pool_id: Id.nullable(),
    filter: z.null(),
    last_polled: z.string().nullable(),
    work_pool_name: z.string().nullable(),
    status: WorkQueueStatus.nullable(),
    /** Runs holding a slot; null when the queue has no limit. */
    active_slots: z.number().int().nullable(),
  }));
export type WorkQueue = z.infer<typeof WorkQueue>;

export const WorkQueueCreate = lazySchema(() =>
  z.strictObject({
    name: Name,
    description: z.string().nullish().transform((v) => v ?? ""),
    is_paused: z.boolean().default(false),
    concurrency_limit: ConcurrencyLimit.nullish(),
    /** Lower is served first (1 is the highest); omitted takes the first free priority. */
    priority: Int32.positive("must be 1 or more").nullish(),
    filter: QueueFilter.nullish(),
  }));
export type WorkQueueCreate = z.input<typeof WorkQueueCreate>;

export const WorkQueueUpdate = lazySchema(() =>
  z.strictObject({
    name: Name.nullish(),
    description: z.string().nullish(),
    is_paused: z.boolean().optional(),
    concurrency_limit: ConcurrencyLimit.nullish(),
    priority: Int32.positive("must be 1 or more").nullish(),
    last_polled: DateTime.nullish(),
    filter: QueueFilter.nullish(),
  }));
export type WorkQueueUpdate = z.input<typeof WorkQueueUpdate>;

export const Worker = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    work_pool_id: Id,
    last_heartbeat_time: z.string().nullable(),
    heartbeat_interval_seconds: z.number().int().nullable(),
    status: WorkerStatus,
  }));
export type Worker = z.infer<typeof Worker>;

/**
 * Not strict, unlike most bodies: Prefect's workers also send `metadata` and `return_id`,
 * which its own open-source server ignores as well.
 */
export const WorkerHeartbeatBody = lazySchema(() =>
  z.object({
    name: z.string().min(1, "must not be empty").max(5000),
    heartbeat_interval_seconds: Int32.positive("must be 1 or more").nullish(),
  }));
export type WorkerHeartbeatBody = z.input<typeof WorkerHeartbeatBody>;

const Operator = lazySchema(() => z.enum(["and_", "or_"]).default("and_"));
const ids = lazySchema(() => z.array(Id).max(MAX_FILTER_VALUES).nullish());
const strings = lazySchema(() => z.array(z.string()).max(MAX_FILTER_VALUES).nullish());
const limit = lazySchema(() => z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish());
const offset = lazySchema(() => Int32.min(0).default(0));

export const WorkPoolFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids }).nullish(),
    name: z.strictObject({ any_: strings }).nullish(),
    type: z.strictObject({ any_: strings }).nullish(),
  }));
export type WorkPoolFilter = z.infer<typeof WorkPoolFilter>;

export const WorkQueueFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids }).nullish(),
    name: z.strictObject({ any_: strings, startswith_: strings }).nullish(),
  }));
export type WorkQueueFilter = z.infer<typeof WorkQueueFilter>;

export const WorkerFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    last_heartbeat_time: z.strictObject({ before_: DateTime.nullish(), after_: DateTime.nullish() }).nullish(),
    status: z.strictObject({ any_: z.array(WorkerStatus).nullish(), not_any_: z.array(WorkerStatus).nullish() }).nullish(),
  }));
export type WorkerFilter = z.infer<typeof WorkerFilter>;

export const WorkPoolFilterBody = lazySchema(() => z.strictObject({ work_pools: WorkPoolFilter.nullish(), limit, offset }));
export type WorkPoolFilterBody = z.input<typeof WorkPoolFilterBody>;
export const WorkPoolCountBody = lazySchema(() => z.strictObject({ work_pools: WorkPoolFilter.nullish() }));
export const WorkQueueFilterBody = lazySchema(() => z.strictObject({ work_queues: WorkQueueFilter.nullish(), limit, offset }));
export type WorkQueueFilterBody = z.input<typeof WorkQueueFilterBody>;
export const WorkerFilterBody = lazySchema(() => z.strictObject({ workers: WorkerFilter.nullish(), limit, offset }));
export type WorkerFilterBody = z.input<typeof WorkerFilterBody>;

/** `POST /work_pools/{name}/get_scheduled_flow_runs`: what a worker polls with. */
export const GetScheduledFlowRunsBody = lazySchema(() =>
  z.strictObject({
    work_queue_names: z.array(z.string()).max(MAX_FILTER_VALUES).nullish(),
    scheduled_before: DateTime.nullish(),
    scheduled_after: DateTime.nullish(),
    limit,
  }));
export type GetScheduledFlowRunsBody = z.input<typeof GetScheduledFlowRunsBody>;

export const WorkerFlowRunResponse = lazySchema(() =>
  z.object({
    work_pool_id: Id,
    work_queue_id: Id,
    flow_run: FlowRun,
  }));
export type WorkerFlowRunResponse = z.infer<typeof WorkerFlowRunResponse>;

/** `POST /work_queues/{id}/get_runs`. */
export const WorkQueueGetRunsBody = lazySchema(() =>
  z.strictObject({
    scheduled_before: DateTime.nullish(),
    limit,
    agent_id: Id.nullish(),
  }));

export const FlowRunSlotSummary = lazySchema(() =>
  z.object({
    id: Id,
    name: z.string(),
    state_type: StateType.nullable(),
    state_name: z.string().nullable(),
    start_time: z.string().nullable(),
    state_timestamp: z.string().nullable(),
    /** Seconds since the run entered its current state. */
    time_in_current_state: z.number().nullable(),
  }));
export type FlowRunSlotSummary = z.infer<typeof FlowRunSlotSummary>;

export const WorkQueueConcurrencyStatusDetail = lazySchema(() =>
  z.object({
    queue_id: Id,
    queue_name: z.string(),
    active_slots: z.number().int(),
    concurrency_limit: z.number().int().nullable(),
    flow_runs: z.array(FlowRunSlotSummary),
    flow_run_count: z.number().int().nullable(),
  }));

export const WorkPoolConcurrencyStatusBody = lazySchema(() =>
  z.strictObject({
    page: Int32.min(1).default(1),
    limit,
    flow_run_limit: z.number().int().min(0).max(200).default(10),
  }));
export const WorkPoolConcurrencyStatus = lazySchema(() =>
  z.object({
    active_slots: z.number().int(),
    concurrency_limit: z.number().int().nullable(),
    queues: z.array(WorkQueueConcurrencyStatusDetail),
    count: z.number().int(),
    limit: z.number().int(),
    pages: z.number().int(),
    page: z.number().int(),
  }));
export type WorkPoolConcurrencyStatus = z.infer<typeof WorkPoolConcurrencyStatus>;

export const WorkQueueConcurrencyStatusBody = lazySchema(() => z.strictObject({ page: Int32.min(1).default(1), limit }));
export const WorkQueueConcurrencyStatus = lazySchema(() =>
  z.object({
    active_slots: z.number().int(),
    concurrency_limit: z.number().int().nullable(),
    flow_runs: z.array(FlowRunSlotSummary),
    count: z.number().int(),
    limit: z.number().int(),
    pages: z.number().int(),
    page: z.number().int(),
  }));
export type WorkQueueConcurrencyStatus = z.infer<typeof WorkQueueConcurrencyStatus>;

export const WorkQueueHealthPolicy = lazySchema(() =>
  z.object({
    maximum_late_runs: z.number().int().nullable(),
    maximum_seconds_since_last_polled: z.number().int().nullable(),
  }));
export const WorkQueueStatusDetail = lazySchema(() =>
  z.object({
    healthy: z.boolean(),
    late_runs_count: z.number().int(),
    last_polled: z.string().nullable(),
    health_check_policy: WorkQueueHealthPolicy,
  }));
export type WorkQueueStatusDetail = z.infer<typeof WorkQueueStatusDetail>;

/**
 * The base job template a `process` pool gets when created without one, as Prefect's process
 * worker declares it: the job configuration a worker renders for each run, and the JSON
 * schema of the variables a deployment or run may set.
 */
export function processBaseJobTemplate(): { job_configuration: Record<string, string>; variables: Record<string, unknown> } {
  return {
    job_configuration: {
      command: "{{ command }}",
      env: "{{ env }}",
      labels: "{{ labels }}",
      name: "{{ name }}",
      stream_output: "{{ stream_output }}",
      working_dir: "{{ working_dir }}",
    },
    variables: {
      type: "object",
      properties: {
        name: { title: "Name", description: "Name given to infrastructure created by a worker.", type: "string" },
        env: {
          title: "Environment Variables",
          description: "Environment variables to set when starting a flow run.",
          type: "object",
          additionalProperties: { type: "string" },
        },
        labels: {
          title: "Labels",
          description: "Labels applied to infrastructure created by a worker.",
          type: "object",
          additionalProperties: { type: "string" },
        },
        command: {
          title: "Command",
          description: "The command to use when starting a flow run. In most cases, this should be left blank and the command will be automatically generated by the worker.",
          type: "string",
        },
        stream_output: {
          title: "Stream Output",
          description: "If enabled, workers will stream output from flow run processes to local standard output.",
          default: true,
          type: "boolean",
        },
        working_dir: {
          title: "Working Directory",
          description: "If provided, workers will open flow run processes within the specified path as the working directory. Otherwise, a temporary directory will be created.",
          type: "string",
          format: "path",
        },
      },
    },
  };
}

const PLACEHOLDER = /\{\{\s*([\w.\-[\]$]+)\s*\}\}/g;
/** A string that is one placeholder and nothing else. */
const WHOLE_PLACEHOLDER = new RegExp(`^${PLACEHOLDER.source}$`);

/**
 * The job-template variables `value` refers to as `{{ name }}`, in order of first use.
 * Block (`prefect.blocks.*`), variable (`prefect.variables.*`) and environment (`$NAME`)
 * references are resolved from elsewhere and are not listed.
 */
export function templateVariableNames(value: unknown): string[] {
  const names = new Set<string>();
  for (const match of JSON.stringify(value ?? null).matchAll(PLACEHOLDER)) {
    const name = match[1]!;
    if (name.startsWith("prefect.") || name.startsWith("$")) continue;
    names.add(name);
  }
  return [...names];
}

/**
 * Why a base job template is unusable, or undefined when it is fine. An empty template is
 * allowed (the worker supplies its own); otherwise it needs `job_configuration` and
 * `variables`, and every `{{ variable }}` the configuration uses must be declared in
 * `variables.properties`.
 */
export function baseJobTemplateProblem(template: Record<string, unknown>): string | undefined {
  if (Object.keys(template).length === 0) return undefined;
  const configuration = template["job_configuration"];
  const variables = template["variables"];
  if (!isObject(configuration) || !isObject(variables)) {
    return "must contain both a `job_configuration` object and a `variables` object";
  }
  const properties = variables["properties"] ?? {};
  if (!isObject(properties)) return "`variables.properties` must be an object";
  const undeclared = templateVariableNames(configuration).filter((name) => !(name in properties));
  if (undeclared.length > 0) {
    return `the job configuration uses undeclared variable(s) ${undeclared.join(", ")}; declare them in variables.properties`;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Marks a value whose variable has none: the key holding it is left out of the configuration. */
const NOT_SET = Symbol("not set");

/**
 * The job configuration a worker uses for one flow run, rendered from its pool's base job
 * template as Prefect's workers render it: the variables are the defaults declared in
 * `variables.properties` with the run's `job_variables` laid over them (top-level keys; the
 * server has already laid the deployment's under the run's own). In `job_configuration`, a
 * string that is one placeholder (`"{{ env }}"`) takes the variable's value as it is (an
 * object stays an object), and the key is left out when the variable has no value;
 * placeholders inside a longer string are replaced by the value's text, or by nothing.
 * `{{ a.b }}` and `{{ a[0] }}` read nested values, `{{ $NAME }}` the variable NAME of
 * `environment` (the worker's; "" when unset). Block and variable references
 * (`{{ prefect.* }}`) are left as written: this server has neither. Inside a longer string a
 * value is written as JavaScript writes it (`true`, JSON for objects), not as Python would.
 *
 * An empty template (a pool created with `{}`) renders to the run's job variables themselves.
 *
 * @example
 * renderJobConfiguration(processBaseJobTemplate(), { env: { A: "1" } });
 * // { env: { A: "1" }, stream_output: true }
 */
export function renderJobConfiguration(
  template: Record<string, unknown>,
  jobVariables: Record<string, unknown>,
  environment: Record<string, string | undefined> = {},
): Record<string, unknown> {
  const configuration = template["job_configuration"];
  if (!isObject(configuration)) return { ...jobVariables };
  const variables = template["variables"];
  const properties = isObject(variables) && isObject(variables["properties"]) ? variables["properties"] : {};
  const values: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (isObject(property) && "default" in property) values[name] = property["default"];
  }
  Object.assign(values, jobVariables);
  const rendered = renderValue(configuration, (name) => lookup(name, values, environment));
  return rendered === NOT_SET || !isObject(rendered) ? {} : rendered;
}

/** A placeholder's value; NOT_SET when it has none, undefined for one left as written. */
function lookup(name: string, values: Record<string, unknown>, environment: Record<string, string | undefined>): unknown {
  if (name.startsWith("prefect.")) return undefined;
  // An unset environment variable is "" (Prefect renders these as text, even alone).
  if (name.startsWith("$")) return environment[name.slice(1)] ?? "";
  let value: unknown = values;
  // `a.b`, `a[0]` and `a.0`.
  for (const part of name.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    if (Array.isArray(value) && /^\d+$/.test(part) && Number(part) < value.length) value = value[Number(part)];
    else if (isObject(value) && part in value) value = value[part];
    else return NOT_SET;
  }
  return value === undefined ? NOT_SET : value;
}

function renderValue(value: unknown, find: (name: string) => unknown): unknown {
  if (typeof value === "string") return renderString(value, find);
  if (Array.isArray(value)) return value.map((item) => renderValue(item, find)).filter((item) => item !== NOT_SET);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const rendered = renderValue(item, find);
    if (rendered !== NOT_SET) out[key] = rendered;
  }
  return out;
}

function renderString(text: string, find: (name: string) => unknown): unknown {
  const whole = WHOLE_PLACEHOLDER.exec(text);
  if (whole) {
    const found = find(whole[1]!);
    return found === undefined ? text : found;
  }
  return text.replace(PLACEHOLDER, (placeholder, name: string) => {
    const found = find(name);
    if (found === undefined) return placeholder;
    if (found === NOT_SET || found === null) return "";
    return typeof found === "string" ? found : JSON.stringify(found);
  });
}
