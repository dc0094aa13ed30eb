import { z } from "zod";
import { DateTime, Id, Int32 } from "../primitives.js";
import { StateType } from "../states.js";

/**
 * Filter bodies of `POST .../filter`, `/count`, `/paginate` and `/history`, field for field
 * as in the contract. Each criterion is optional; the criteria inside one filter object are
 * joined by its `operator` (`and_` by default).
 */
const Operator = z.enum(["and_", "or_"]).default("and_");
/** Most values one list criterion takes: each is a bound parameter, and databases cap those. */
export const MAX_FILTER_VALUES = 10_000;
const ids = z.array(Id).max(MAX_FILTER_VALUES).nullish();
const strings = z.array(z.string()).max(MAX_FILTER_VALUES).nullish();
const bool = z.boolean().nullish();
const time = { before_: DateTime.nullish(), after_: DateTime.nullish() };
const timeOrNull = { ...time, is_null_: bool };
const tags = z.strictObject({ operator: Operator, all_: strings, any_: strings, is_null_: bool });

export const FlowFilter = z.strictObject({
  operator: Operator,
  id: z.strictObject({ any_: ids, not_any_: ids }).nullish(),
  deployment: z.strictObject({ operator: Operator, is_null_: bool }).nullish(),
  name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
  tags: tags.nullish(),
});
export type FlowFilter = z.infer<typeof FlowFilter>;

export const FlowRunFilter = z.strictObject({
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
});
export type FlowRunFilter = z.infer<typeof FlowRunFilter>;

export const TaskRunFilter = z.strictObject({
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
});
export type TaskRunFilter = z.infer<typeof TaskRunFilter>;

export const DeploymentFilter = z.strictObject({
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
});
export type DeploymentFilter = z.infer<typeof DeploymentFilter>;

export const LogFilter = z.strictObject({
  operator: Operator,
  level: z.strictObject({ ge_: Int32.nullish(), le_: Int32.nullish() }).nullish(),
  timestamp: z.strictObject(time).nullish(),
  flow_run_id: z.strictObject({ any_: ids }).nullish(),
  task_run_id: z.strictObject({ any_: ids, is_null_: bool }).nullish(),
  text: z.strictObject({ query: z.string().max(200) }).nullish(),
});
export type LogFilter = z.infer<typeof LogFilter>;

/** Accepted and ignored: work pools arrive with a later issue; a non-null value is refused. */
const NotYetSupported = z.null().optional();

export const FlowSort = z.enum(["CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"]);
export const FlowRunSort = z.enum([
  "ID_DESC",
  "START_TIME_ASC",
  "START_TIME_DESC",
  "EXPECTED_START_TIME_ASC",
  "EXPECTED_START_TIME_DESC",
  "NAME_ASC",
  "NAME_DESC",
  "NEXT_SCHEDULED_START_TIME_ASC",
  "END_TIME_DESC",
]);
export const TaskRunSort = z.enum([
  "ID_DESC",
  "EXPECTED_START_TIME_ASC",
  "EXPECTED_START_TIME_DESC",
  "NAME_ASC",
  "NAME_DESC",
  "NEXT_SCHEDULED_START_TIME_ASC",
  "END_TIME_DESC",
]);
export const DeploymentSort = FlowSort;
export const LogSort = z.enum(["TIMESTAMP_ASC", "TIMESTAMP_DESC"]);

/** Largest `limit` a filter accepts, as Prefect's default API settings allow. */
export const MAX_FILTER_LIMIT = 200;
const limit = z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish();
const offset = Int32.min(0).default(0);

/** The filters every run-related read accepts, so a query can join across objects. */
const runCriteria = {
  flows: FlowFilter.nullish(),
  flow_runs: FlowRunFilter.nullish(),
  task_runs: TaskRunFilter.nullish(),
  deployments: DeploymentFilter.nullish(),
  work_pools: NotYetSupported,
  work_pool_queues: NotYetSupported,
};
export type RunCriteria = {
  flows?: FlowFilter | null | undefined;
  flow_runs?: FlowRunFilter | null | undefined;
  task_runs?: TaskRunFilter | null | undefined;
  deployments?: DeploymentFilter | null | undefined;
};

export const FlowRunFilterBody = z.strictObject({ ...runCriteria, sort: FlowRunSort.default("ID_DESC"), limit, offset });
export const FlowRunCountBody = z.strictObject(runCriteria);
export const FlowRunPaginateBody = z.strictObject({
  ...runCriteria,
  sort: FlowRunSort.default("ID_DESC"),
  limit,
  page: Int32.min(1).default(1),
});
export const FlowRunHistoryBody = z.strictObject({
  ...runCriteria,
  work_queues: NotYetSupported,
  history_start: DateTime,
  history_end: DateTime,
  history_interval_seconds: z.number().min(1, "must be at least 1 second"),
});

export const TaskRunFilterBody = z.strictObject({ ...runCriteria, sort: TaskRunSort.default("ID_DESC"), limit, offset });
export const TaskRunCountBody = FlowRunCountBody;
export const TaskRunPaginateBody = z.strictObject({
  ...runCriteria,
  sort: TaskRunSort.default("ID_DESC"),
  limit,
  page: Int32.min(1).default(1),
});

export const FlowFilterBody = z.strictObject({ ...runCriteria, sort: FlowSort.default("NAME_ASC"), limit, offset });
export const FlowCountBody = FlowRunCountBody;
export const FlowPaginateBody = z.strictObject({
  ...runCriteria,
  sort: FlowSort.default("NAME_ASC"),
  limit,
  page: Int32.min(1).default(1),
});

export const DeploymentFilterBody = z.strictObject({ ...runCriteria, sort: DeploymentSort.default("NAME_ASC"), limit, offset });
export const DeploymentCountBody = FlowRunCountBody;
export const DeploymentPaginateBody = z.strictObject({
  ...runCriteria,
  sort: DeploymentSort.default("NAME_ASC"),
  limit,
  page: Int32.min(1).default(1),
});

export const LogFilterBody = z.strictObject({ logs: LogFilter.nullish(), sort: LogSort.default("TIMESTAMP_ASC"), limit, offset });

export const FlowRunBulkDeleteBody = z.strictObject({
  flow_runs: FlowRunFilter.nullish(),
  limit: z.number().int().min(1).max(50).default(50),
});

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
