import { sql, type RawBuilder, type SqlBool } from "kysely";
import type { DeploymentFilter, FlowFilter, FlowRunFilter, LogFilter, RunCriteria, TaskRunFilter } from "@baton/core";
import type { DialectOps } from "./dialect.js";
import type { Database } from "./database.js";

/**
 * Translates the contract's filter objects into SQL conditions. Criteria on related objects
 * become `IN (SELECT ...)` subqueries, so any read can be narrowed by any related filter
 * (flow runs by their flow's tags, flows by their runs' states...) with one code path.
 */
export type Cond = RawBuilder<SqlBool>;
export type Operator = "and_" | "or_";

export const FALSE: Cond = sql<SqlBool>`1 = 0`;

export function combine(operator: Operator | undefined, conds: Array<Cond | null>): Cond | null {
  const present = conds.filter((c): c is Cond => c !== null);
  if (present.length === 0) return null;
  if (present.length === 1) return present[0] ?? null;
  return sql<SqlBool>`(${sql.join(present, operator === "or_" ? sql` OR ` : sql` AND `)})`;
}

const ref = (column: string) => sql.ref(column);

export function anyOf(column: string, values: readonly unknown[] | null | undefined): Cond | null {
  if (values == null) return null;
  if (values.length === 0) return FALSE;
  return sql<SqlBool>`${ref(column)} IN (${sql.join(values)})`;
}

/** SQL's NOT IN, as Prefect uses it: rows whose value is NULL do not match either. */
export function noneOf(column: string, values: readonly unknown[] | null | undefined): Cond | null {
  if (values == null) return null;
  if (values.length === 0) return sql<SqlBool>`${ref(column)} IS NOT NULL`;
  return sql<SqlBool>`${ref(column)} NOT IN (${sql.join(values)})`;
}

function anyOfExpression(expression: RawBuilder<unknown>, values: readonly unknown[]): Cond {
  if (values.length === 0) return FALSE;
  return sql<SqlBool>`${expression} IN (${sql.join(values)})`;
}

export function isNull(column: string, value: boolean | null | undefined): Cond | null {
  if (value == null) return null;
  return value ? sql<SqlBool>`${ref(column)} IS NULL` : sql<SqlBool>`${ref(column)} IS NOT NULL`;
}

function timeRange(
  column: string,
  range: { before_?: string | null | undefined; after_?: string | null | undefined; is_null_?: boolean | null | undefined } | null | undefined,
): Array<Cond | null> {
  if (!range) return [];
  return [
    range.before_ != null ? sql<SqlBool>`${ref(column)} <= ${range.before_}` : null,
    range.after_ != null ? sql<SqlBool>`${ref(column)} >= ${range.after_}` : null,
    isNull(column, range.is_null_),
  ];
}

export function tagConds(
  d: DialectOps,
  column: string,
  tags: { operator?: Operator; all_?: string[] | null; any_?: string[] | null; is_null_?: boolean | null } | null | undefined,
): Cond | null {
  if (!tags) return null;
  return combine(tags.operator, [
    tags.all_ != null ? d.jsonArrayContainsAll(column, tags.all_) : null,
    tags.any_ != null ? d.jsonArrayContainsAny(column, tags.any_) : null,
    tags.is_null_ == null ? null : tags.is_null_ ? d.jsonArrayIsEmpty(column) : sql<SqlBool>`NOT ${d.jsonArrayIsEmpty(column)}`,
  ]);
}

function nameConds(d: DialectOps, column: string, name: { any_?: string[] | null; like_?: string | null } | null | undefined): Array<Cond | null> {
  if (!name) return [];
  return [anyOf(column, name.any_), name.like_ != null ? d.containsText(column, name.like_) : null];
}

export function flowConditions(d: DialectOps, f: FlowFilter | null | undefined): Cond | null {
  if (!f) return null;
  return combine(f.operator, [
    anyOf("flow.id", f.id?.any_),
    noneOf("flow.id", f.id?.not_any_),
    f.deployment?.is_null_ == null
      ? null
      : sql<SqlBool>`${sql.raw(f.deployment.is_null_ ? "NOT " : "")}EXISTS (SELECT 1 FROM deployment dx WHERE dx.flow_id = flow.id)`,
    ...nameConds(d, "flow.name", f.name),
    tagConds(d, "flow.tags", f.tags),
  ]);
}

export function flowRunConditions(d: DialectOps, f: FlowRunFilter | null | undefined): Cond | null {
  if (!f) return null;
  const state = f.state
    ? combine(f.state.operator, [
        anyOf("flow_run.state_type", f.state.type?.any_),
        noneOf("flow_run.state_type", f.state.type?.not_any_),
        anyOf("flow_run.state_name", f.state.name?.any_),
        noneOf("flow_run.state_name", f.state.name?.not_any_),
      ])
    : null;
  const parentFlowRuns = f.parent_flow_run_id?.any_;
  return combine(f.operator, [
    anyOf("flow_run.id", f.id?.any_),
    noneOf("flow_run.id", f.id?.not_any_),
    ...nameConds(d, "flow_run.name", f.name),
    tagConds(d, "flow_run.tags", f.tags),
    f.deployment_id ? combine(f.deployment_id.operator, [anyOf("flow_run.deployment_id", f.deployment_id.any_), isNull("flow_run.deployment_id", f.deployment_id.is_null_)]) : null,
    f.work_queue_name
      ? combine(f.work_queue_name.operator, [anyOf("flow_run.work_queue_name", f.work_queue_name.any_), isNull("flow_run.work_queue_name", f.work_queue_name.is_null_)])
      : null,
    state,
    anyOf("flow_run.flow_version", f.flow_version?.any_),
    ...timeRange("flow_run.start_time", f.start_time),
    ...timeRange("flow_run.end_time", f.end_time),
    ...timeRange("flow_run.expected_start_time", f.expected_start_time),
    ...timeRange("flow_run.next_scheduled_start_time", f.next_scheduled_start_time),
    parentFlowRuns == null
      ? null
      : parentFlowRuns.length === 0
        ? FALSE
        : sql<SqlBool>`flow_run.parent_task_run_id IN (SELECT ptr.id FROM task_run ptr WHERE ptr.flow_run_id IN (${sql.join(parentFlowRuns)}))`,
    f.parent_task_run_id
      ? combine(f.parent_task_run_id.operator, [anyOf("flow_run.parent_task_run_id", f.parent_task_run_id.any_), isNull("flow_run.parent_task_run_id", f.parent_task_run_id.is_null_)])
      : null,
    anyOf("flow_run.idempotency_key", f.idempotency_key?.any_),
    noneOf("flow_run.idempotency_key", f.idempotency_key?.not_any_),
    f.created_by
      ? combine(f.created_by.operator, [
          f.created_by.id_ != null ? anyOfExpression(d.jsonTextField("flow_run.created_by", "id"), f.created_by.id_) : null,
          f.created_by.type_ != null ? anyOfExpression(d.jsonTextField("flow_run.created_by", "type"), f.created_by.type_) : null,
          isNull("flow_run.created_by", f.created_by.is_null_),
        ])
      : null,
  ]);
}

export function taskRunConditions(d: DialectOps, f: TaskRunFilter | null | undefined): Cond | null {
  if (!f) return null;
  const state = f.state
    ? combine(f.state.operator, [anyOf("task_run.state_type", f.state.type?.any_), anyOf("task_run.state_name", f.state.name?.any_)])
    : null;
  return combine(f.operator, [
    anyOf("task_run.id", f.id?.any_),
    ...nameConds(d, "task_run.name", f.name),
    tagConds(d, "task_run.tags", f.tags),
    state,
    ...timeRange("task_run.start_time", f.start_time),
    ...timeRange("task_run.end_time", f.end_time),
    ...timeRange("task_run.expected_start_time", f.expected_start_time),
    f.subflow_runs?.exists_ == null
      ? null
      : sql<SqlBool>`${sql.raw(f.subflow_runs.exists_ ? "" : "NOT ")}EXISTS (SELECT 1 FROM flow_run sfr WHERE sfr.parent_task_run_id = task_run.id)`,
    f.flow_run_id ? combine(f.flow_run_id.operator, [anyOf("task_run.flow_run_id", f.flow_run_id.any_), isNull("task_run.flow_run_id", f.flow_run_id.is_null_)]) : null,
  ]);
}

export function deploymentConditions(d: DialectOps, f: DeploymentFilter | null | undefined): Cond | null {
  if (!f) return null;
  const limit = f.concurrency_limit;
  return combine(f.operator, [
    anyOf("deployment.id", f.id?.any_),
    noneOf("deployment.id", f.id?.not_any_),
    ...nameConds(d, "deployment.name", f.name),
    f.flow_or_deployment_name?.like_ != null
      ? sql<SqlBool>`(${d.containsText("deployment.name", f.flow_or_deployment_name.like_)} OR deployment.flow_id IN (SELECT fx.id FROM flow fx WHERE ${d.containsText("fx.name", f.flow_or_deployment_name.like_)}))`
      : null,
    f.paused?.eq_ != null ? sql<SqlBool>`deployment.paused = ${f.paused.eq_ ? 1 : 0}` : null,
    tagConds(d, "deployment.tags", f.tags),
    anyOf("deployment.work_queue_name", f.work_queue_name?.any_),
    limit?.ge_ != null ? sql<SqlBool>`deployment.concurrency_limit >= ${limit.ge_}` : null,
    limit?.le_ != null ? sql<SqlBool>`deployment.concurrency_limit <= ${limit.le_}` : null,
    isNull("deployment.concurrency_limit", limit?.is_null_),
  ]);
}

export function logConditions(d: DialectOps, f: LogFilter | null | undefined): Cond | null {
  if (!f) return null;
  return combine(f.operator, [
    f.level?.ge_ != null ? sql<SqlBool>`log.level >= ${f.level.ge_}` : null,
    f.level?.le_ != null ? sql<SqlBool>`log.level <= ${f.level.le_}` : null,
    ...timeRange("log.timestamp", f.timestamp),
    anyOf("log.flow_run_id", f.flow_run_id?.any_),
    anyOf("log.task_run_id", f.task_run_id?.any_),
    isNull("log.task_run_id", f.task_run_id?.is_null_),
    f.text?.query ? sql<SqlBool>`(${d.containsText("log.message", f.text.query)} OR ${d.containsText("log.name", f.text.query)})` : null,
  ]);
}

export type FilterTarget = "flow" | "flow_run" | "task_run" | "deployment";

/**
 * Conditions for reading `target` narrowed by every criterion in `criteria`: the target's
 * own filter applies directly; the others through the relation that links them.
 */
export function criteriaConditions(d: DialectOps, target: FilterTarget, criteria: RunCriteria): Cond[] {
  const flows = flowConditions(d, criteria.flows);
  const flowRuns = flowRunConditions(d, criteria.flow_runs);
  const taskRuns = taskRunConditions(d, criteria.task_runs);
  const deployments = deploymentConditions(d, criteria.deployments);
  const out: Cond[] = [];
  const sub = (column: string, select: string, cond: Cond | null) => {
    if (cond) out.push(sql<SqlBool>`${ref(column)} IN (SELECT ${sql.raw(select)} WHERE ${cond})`);
  };
  switch (target) {
    case "flow":
      if (flows) out.push(flows);
      sub("flow.id", "flow_run.flow_id FROM flow_run", flowRuns);
      sub("flow.id", "flow_run.flow_id FROM flow_run JOIN task_run ON task_run.flow_run_id = flow_run.id", taskRuns);
      sub("flow.id", "deployment.flow_id FROM deployment", deployments);
      break;
    case "flow_run":
      if (flowRuns) out.push(flowRuns);
      sub("flow_run.flow_id", "flow.id FROM flow", flows);
      sub("flow_run.id", "task_run.flow_run_id FROM task_run", taskRuns);
      sub("flow_run.deployment_id", "deployment.id FROM deployment", deployments);
      break;
    case "task_run":
      if (taskRuns) out.push(taskRuns);
      sub("task_run.flow_run_id", "flow_run.id FROM flow_run", flowRuns);
      sub("task_run.flow_run_id", "flow_run.id FROM flow_run JOIN flow ON flow.id = flow_run.flow_id", flows);
      sub("task_run.flow_run_id", "flow_run.id FROM flow_run JOIN deployment ON deployment.id = flow_run.deployment_id", deployments);
      break;
    case "deployment":
      if (deployments) out.push(deployments);
      sub("deployment.flow_id", "flow.id FROM flow", flows);
      sub("deployment.id", "flow_run.deployment_id FROM flow_run", flowRuns);
      sub("deployment.id", "flow_run.deployment_id FROM flow_run JOIN task_run ON task_run.flow_run_id = flow_run.id", taskRuns);
      break;
  }
  return out;
}

/** How many rows of `target` match `criteria`: the `/count` of every collection. */
export async function countMatching(db: Database, target: FilterTarget, criteria: RunCriteria): Promise<number> {
  let query = db.kysely.selectFrom(target).select((eb) => eb.fn.countAll<number>().as("n"));
  for (const cond of criteriaConditions(db.dialect, target, criteria)) query = query.where(cond);
  return Number((await query.executeTakeFirstOrThrow()).n);
}
