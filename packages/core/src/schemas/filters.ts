import { z } from "zod";
import { DateTime, Id, Int32 } from "../primitives.js";
import { StateCreate, StateType } from "../states.js";
import { lazySchema } from "../lazy-schema.js";

/**
 * Filter bodies of `POST .../filter`, `/count`, `/paginate` and `/history`, field for field
 * as in the contract. Each criterion is optional; the criteria inside one filter object are
 * joined by its `operator` (`and_` by default).
 */
const Operator = lazySchema(() => z.enum(["and_", "or_"]).default("and_"));
/** Most values one list criterion takes: each is a bound parameter, and databases cap those. */
export const MAX_FILTER_VALUES = 10_000;
const ids = lazySchema(() => z.array(Id).max(MAX_FILTER_VALUES).nullish());
const strings = lazySchema(() => z.array(z.string()).max(MAX_FILTER_VALUES).nullish());
const bool = lazySchema(() => z.boolean().nullish());
const time = { before_: DateTime.nullish(), after_: DateTime.nullish() };
const timeOrNull = { ...time, is_null_: bool };
const tags = lazySchema(() => z.strictObject({ operator: Operator, all_: strings, any_: strings, is_null_: bool }));

export const FlowFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids, not_any_: ids }).nullish(),
    deployment: z.strictObject({ operator: Operator, is_null_: bool }).nullish(),
    name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
    tags: tags.nullish(),
  }));
export type FlowFilter = z.infer<typeof FlowFilter>;

export const FlowRunFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids, not_any_: ids }).nullish(),
    name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
    tags: tags.nullish(),
    deployment_id: z.strictObject({ operator: Operator, any_: ids, is_null_: bool }).nullish(),
    work_queue_name: z.strictObject({ operator: Operator, any_: strings, is_null_: bool }).nullish(),
    state: z
      .strictObject({
        operator: Operator,
        type: z.strictObject({ any_: z.array(StateType).nullish(), not_any_: z.array(StateType).nullish() }).nullish(),
        name: z.strictObject({ any_: strings, not_any_: strings }).nullish(),
      })
      .nullish(),
    flow_version: z.strictObject({ any_: strings }).nullish(),
    start_time: z.strictObject(timeOrNull).nullish(),
    end_time: z.strictObject(timeOrNull).nullish(),
    expected_start_time: z.strictObject(time).nullish(),
    next_scheduled_start_time: z.strictObject(time).nullish(),
    parent_flow_run_id: z.strictObject({ operator: Operator, any_: ids }).nullish(),
    parent_task_run_id: z.strictObject({ operator: Operator, any_: ids, is_null_: bool }).nullish(),
    idempotency_key: z.strictObject({ any_: strings, not_any_: strings }).nullish(),
    created_by: z
      .strictObject({ operator: Operator, id_: ids, type_: strings, is_null_: bool })
      .nullish(),
  }));
export type FlowRunFilter = z.infer<typeof FlowRunFilter>;

export const TaskRunFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids }).nullish(),
    name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
    tags: z.strictObject({ operator: Operator, all_: strings, is_null_: bool }).nullish(),
    state: z
      .strictObject({
        operator: Operator,
        type: z.strictObject({ any_: z.array(StateType).nullish() }).nullish(),
        name: z.strictObject({ any_: strings }).nullish(),
      })
      .nullish(),
    start_time: z.strictObject(timeOrNull).nullish(),
    end_time: z.strictObject(timeOrNull).nullish(),
    expected_start_time: z.strictObject(time).nullish(),
    subflow_runs: z.strictObject({ exists_: bool }).nullish(),
    flow_run_id: z.strictObject({ operator: Operator, any_: ids, is_null_: bool }).nullish(),
  }));
export type TaskRunFilter = z.infer<typeof TaskRunFilter>;

export const DeploymentFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids, not_any_: ids }).nullish(),
    name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
    flow_or_deployment_name: z.strictObject({ like_: z.string().nullish() }).nullish(),
    paused: z.strictObject({ eq_: bool }).nullish(),
    tags: tags.nullish(),
    work_queue_name: z.strictObject({ any_: strings }).nullish(),
    concurrency_limit: z
      .strictObject({ ge_: Int32.nullish(), le_: Int32.nullish(), is_null_: bool })
      .nullish(),
  }));
export type DeploymentFilter = z.infer<typeof DeploymentFilter>;

export const LogFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    level: z.strictObject({ ge_: Int32.nullish(), le_: Int32.nullish() }).nullish(),
    timestamp: z.strictObject(time).nullish(),
    flow_run_id: z.strictObject({ any_: ids }).nullish(),
    task_run_id: z.strictObject({ any_: ids, is_null_: bool }).nullish(),
    text: z.strictObject({ query: z.string().max(200) }).nullish(),
  }));
export type LogFilter = z.infer<typeof LogFilter>;

/** Accepted and ignored: work pools arrive with a later issue; a non-null value is refused. */
const NotYetSupported = lazySchema(() => z.null().optional());

export const FlowSort = lazySchema(() => z.enum(["CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"]));
export const FlowRunSort = lazySchema(() =>
  z.enum([
    "ID_DESC",
    "START_TIME_ASC",
    "START_TIME_DESC",
    "EXPECTED_START_TIME_ASC",
    "EXPECTED_START_TIME_DESC",
    "NAME_ASC",
    "NAME_DESC",
    "NEXT_SCHEDULED_START_TIME_ASC",
    "END_TIME_DESC",
  ]));
export const TaskRunSort = lazySchema(() =>
  z.enum([
    "ID_DESC",
    "EXPECTED_START_TIME_ASC",
    "EXPECTED_START_TIME_DESC",
    "NAME_ASC",
    "NAME_DESC",
    "NEXT_SCHEDULED_START_TIME_ASC",
    "END_TIME_DESC",
  ]));
export const DeploymentSort = FlowSort;
export const LogSort = lazySchema(() => z.enum(["TIMESTAMP_ASC", "TIMESTAMP_DESC"]));

/** Largest `limit` a filter accepts, as Prefect's default API settings allow. */
export const MAX_FILTER_LIMIT = 200;
const limit = lazySchema(() => z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish());
const offset = lazySchema(() => Int32.min(0).default(0));

/**
 * The filters every run-related read accepts, so a query can join across objects. A shape,
 * not a schema, but built on first use the same way: building it builds the four filters.
 */
const runCriteria = lazySchema(() => ({
  flows: FlowFilter.nullish(),
  flow_runs: FlowRunFilter.nullish(),
  task_runs: TaskRunFilter.nullish(),
  deployments: DeploymentFilter.nullish(),
  work_pools: NotYetSupported,
  work_pool_queues: NotYetSupported,
}));
export type RunCriteria = {
  flows?: FlowFilter | null | undefined;
  flow_runs?: FlowRunFilter | null | undefined;
  task_runs?: TaskRunFilter | null | undefined;
  deployments?: DeploymentFilter | null | undefined;
};

/** The `/filter` body of a run-related collection: the criteria, its sort, and a page by offset. */
function filterBody<S extends z.ZodType>(sort: S) {
  return z.strictObject({ ...runCriteria, sort, limit, offset });
}
/** The `/paginate` body of a run-related collection: the criteria, its sort, and a page by number. */
function paginateBody<S extends z.ZodType>(sort: S) {
  return z.strictObject({ ...runCriteria, sort, limit, page: Int32.min(1).default(1) });
}

export const FlowRunFilterBody = lazySchema(() => filterBody(FlowRunSort.default("ID_DESC")));
export const FlowRunCountBody = lazySchema(() => z.strictObject({ ...runCriteria }));
export const FlowRunPaginateBody = lazySchema(() => paginateBody(FlowRunSort.default("ID_DESC")));
export const FlowRunHistoryBody = lazySchema(() =>
  z.strictObject({
    ...runCriteria,
    work_queues: NotYetSupported,
    history_start: DateTime,
    history_end: DateTime,
    history_interval_seconds: z.number().min(1, "must be at least 1 second"),
  }));

export const TaskRunFilterBody = lazySchema(() => filterBody(TaskRunSort.default("ID_DESC")));
export const TaskRunCountBody = FlowRunCountBody;
export const TaskRunPaginateBody = lazySchema(() => paginateBody(TaskRunSort.default("ID_DESC")));

export const FlowFilterBody = lazySchema(() => filterBody(FlowSort.default("NAME_ASC")));
export const FlowCountBody = FlowRunCountBody;
export const FlowPaginateBody = lazySchema(() => paginateBody(FlowSort.default("NAME_ASC")));

export const DeploymentFilterBody = lazySchema(() => filterBody(DeploymentSort.default("NAME_ASC")));
export const DeploymentCountBody = FlowRunCountBody;
export const DeploymentPaginateBody = lazySchema(() => paginateBody(DeploymentSort.default("NAME_ASC")));

export const LogFilterBody = lazySchema(() => z.strictObject({ logs: LogFilter.nullish(), sort: LogSort.default("TIMESTAMP_ASC"), limit, offset }));

export const FlowRunBulkDeleteBody = lazySchema(() =>
  z.strictObject({
    flow_runs: FlowRunFilter.nullish(),
    limit: z.number().int().min(1).max(50).default(50),
  }));

/** The contract's pagination envelope. */
export function paginationResponse<T extends z.ZodTypeAny>(item: T) {
  return z.object({
    results: z.array(item),
    count: z.number().int(),
    limit: z.number().int(),
    pages: z.number().int(),
    page: z.number().int(),
  });
}

/** `POST /task_runs/history`: the flow run history's body, counted over task runs. */
export const TaskRunHistoryBody = FlowRunHistoryBody;

/** `POST /flow_runs/lateness`: which runs to average over. */
export const FlowRunLatenessBody = FlowRunCountBody;

export const FlowRunBulkSetStateBody = lazySchema(() =>
  z.strictObject({
    flow_runs: FlowRunFilter.nullish(),
    state: StateCreate,
    force: z.boolean().default(false),
    limit: z.number().int().min(1).max(50).default(50),
  }));

export const FlowBulkDeleteBody = lazySchema(() =>
  z.strictObject({
    flows: FlowFilter.nullish(),
    limit: z.number().int().min(1).max(50).default(50),
  }));
