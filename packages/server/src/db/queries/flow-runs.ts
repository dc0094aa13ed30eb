import type { FlowRun, FlowRunPolicy, HistoryInterval, RunCriteria, StateType } from "@baton/core";
import { FlowRunPolicy as FlowRunPolicySchema, FlowRunSort } from "@baton/core";
import { sql, type Selectable, type Updateable } from "kysely";
import type { z } from "zod";
import type { Database, Executor } from "../database.js";
import { countMatching, criteriaConditions } from "../filters.js";
import { fromJson, newId, toBool, toJson } from "../json.js";
import type { FlowRunTable } from "../schema.js";
import { pageLimit } from "./paging.js";
import { flowRunPolicy, runState, runStateType, runTiming } from "./runs.js";

export function flowRunFromRow(row: Selectable<FlowRunTable>, now = Date.now()): FlowRun {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    flow_id: row.flow_id,
    state_id: row.state_id,
    deployment_id: row.deployment_id,
    deployment_version: row.deployment_version,
    work_queue_id: row.work_queue_id,
    work_queue_name: row.work_queue_name,
    work_pool_id: row.work_pool_id,
    work_pool_name: row.work_pool_name,
    flow_version: row.flow_version,
    parameters: fromJson(row.parameters, {}),
    idempotency_key: row.idempotency_key,
    context: fromJson(row.context, {}),
    empirical_policy: flowRunPolicy(row),
    tags: fromJson(row.tags, []),
    labels: fromJson(row.labels, {}),
    parent_task_run_id: row.parent_task_run_id,
    state_type: runStateType(row),
    state_name: row.state_name,
    run_count: row.run_count,
    expected_start_time: row.expected_start_time,
    next_scheduled_start_time: row.next_scheduled_start_time,
    start_time: row.start_time,
    end_time: row.end_time,
    total_run_time: row.total_run_time,
    ...runTiming(row, now),
    auto_scheduled: row.auto_scheduled === 1,
    infrastructure_document_id: row.infrastructure_document_id,
    infrastructure_pid: row.infrastructure_pid,
    created_by: fromJson(row.created_by, null),
    job_variables: fromJson(row.job_variables, {}),
    state: runState(row),
  };
}

export interface NewFlowRun {
  id?: string | null | undefined;
  name: string;
  flow_id: string;
  flow_version?: string | null | undefined;
  deployment_id?: string | null | undefined;
  deployment_version?: string | null | undefined;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  empirical_policy: z.infer<typeof FlowRunPolicySchema>;
  tags: string[];
  labels?: Record<string, unknown> | null | undefined;
  idempotency_key?: string | null | undefined;
  parent_task_run_id?: string | null | undefined;
  infrastructure_document_id?: string | null | undefined;
  work_queue_name?: string | null | undefined;
  work_pool_name?: string | null | undefined;
  job_variables?: Record<string, unknown> | null | undefined;
  auto_scheduled?: boolean;
}

/** A new flow run's row, without a state yet (see orchestration/create-run.ts). */
export function newFlowRunRow(run: NewFlowRun, now: string): Selectable<FlowRunTable> {
  return {
    id: run.id ?? newId(),
    created: now,
    updated: now,
    name: run.name,
    flow_id: run.flow_id,
    flow_version: run.flow_version ?? null,
    deployment_id: run.deployment_id ?? null,
    deployment_version: run.deployment_version ?? null,
    parameters: toJson(run.parameters),
    context: toJson(run.context),
    empirical_policy: toJson(run.empirical_policy),
    tags: toJson(run.tags),
    labels: toJson(run.labels ?? {}),
    idempotency_key: run.idempotency_key ?? null,
    parent_task_run_id: run.parent_task_run_id ?? null,
    infrastructure_document_id: run.infrastructure_document_id ?? null,
    work_queue_name: run.work_queue_name ?? null,
    work_pool_name: run.work_pool_name ?? null,
    job_variables: toJson(run.job_variables ?? {}),
    auto_scheduled: toBool(run.auto_scheduled),
    state_id: null,
    state_type: null,
    state_name: null,
    state_timestamp: null,
    state: null,
    run_count: 0,
    total_run_time: 0,
    expected_start_time: null,
    next_scheduled_start_time: null,
    start_time: null,
    end_time: null,
    work_queue_id: null,
    work_pool_id: null,
    infrastructure_pid: null,
    created_by: null,
    last_heartbeat: null,
  };
}

export async function readFlowRunRow(db: Executor, id: string): Promise<Selectable<FlowRunTable> | undefined> {
  return db.selectFrom("flow_run").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function readFlowRun(db: Executor, id: string): Promise<FlowRun | undefined> {
  const row = await readFlowRunRow(db, id);
  return row && flowRunFromRow(row);
}

export interface FlowRunPatch {
  name?: string | null | undefined;
  flow_version?: string | null | undefined;
  parameters?: Record<string, unknown> | undefined;
  empirical_policy?: FlowRunPolicy | undefined;
  tags?: string[] | undefined;
  infrastructure_pid?: string | null | undefined;
  job_variables?: Record<string, unknown> | null | undefined;
}

export async function updateFlowRun(db: Executor, id: string, patch: FlowRunPatch): Promise<boolean> {
  const set: Updateable<FlowRunTable> = { updated: new Date().toISOString() };
  if (patch.name != null) set.name = patch.name;
  if (patch.flow_version !== undefined) set.flow_version = patch.flow_version;
  if (patch.parameters !== undefined) set.parameters = toJson(patch.parameters);
  if (patch.empirical_policy !== undefined) set.empirical_policy = toJson(patch.empirical_policy);
  if (patch.tags !== undefined) set.tags = toJson(patch.tags);
  if (patch.infrastructure_pid !== undefined) set.infrastructure_pid = patch.infrastructure_pid;
  if (patch.job_variables !== undefined) set.job_variables = toJson(patch.job_variables ?? {});
  const result = await db.updateTable("flow_run").set(set).where("id", "=", id).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteFlowRun(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("flow_run").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

type FlowRunSortKey = z.infer<typeof FlowRunSort>;

/** Sorts as PostgreSQL does by default on both databases: NULLs after values going up, before them going down. */
function orderFlowRuns<Q extends { orderBy: (...args: never[]) => unknown }>(query: Q, sort: FlowRunSortKey) {
  const q = query as unknown as import("kysely").SelectQueryBuilder<{ flow_run: FlowRunTable }, "flow_run", Selectable<FlowRunTable>>;
  switch (sort) {
    case "ID_DESC":
      return q.orderBy("flow_run.id", "desc");
    case "START_TIME_ASC":
      return q.orderBy(sql`coalesce(flow_run.start_time, flow_run.expected_start_time)`, (o) => o.asc().nullsLast()).orderBy("flow_run.id");
    case "START_TIME_DESC":
      return q.orderBy(sql`coalesce(flow_run.start_time, flow_run.expected_start_time)`, (o) => o.desc().nullsFirst()).orderBy("flow_run.id");
    case "EXPECTED_START_TIME_ASC":
      return q.orderBy("flow_run.expected_start_time", (o) => o.asc().nullsLast()).orderBy("flow_run.id");
    case "EXPECTED_START_TIME_DESC":
      return q.orderBy("flow_run.expected_start_time", (o) => o.desc().nullsFirst()).orderBy("flow_run.id");
    case "NAME_ASC":
      return q.orderBy("flow_run.name", "asc").orderBy("flow_run.id");
    case "NAME_DESC":
      return q.orderBy("flow_run.name", "desc").orderBy("flow_run.id");
    case "NEXT_SCHEDULED_START_TIME_ASC":
      return q.orderBy("flow_run.next_scheduled_start_time", (o) => o.asc().nullsLast()).orderBy("flow_run.id");
    case "END_TIME_DESC":
      return q.orderBy("flow_run.end_time", (o) => o.desc().nullsFirst()).orderBy("flow_run.id");
  }
}

export async function filterFlowRuns(
  db: Database,
  criteria: RunCriteria,
  page: { sort: FlowRunSortKey; limit?: number | null | undefined; offset: number },
): Promise<FlowRun[]> {
  let query = db.kysely.selectFrom("flow_run").selectAll();
  for (const cond of criteriaConditions(db.dialect, "flow_run", criteria)) query = query.where(cond);
  const rows = await orderFlowRuns(query, page.sort).limit(pageLimit(page.limit)).offset(page.offset).execute();
  const now = Date.now();
  return rows.map((row) => flowRunFromRow(row, now));
}

export function countFlowRuns(db: Database, criteria: RunCriteria): Promise<number> {
  return countMatching(db, "flow_run", criteria);
}

/** Deletes the runs matching `criteria` (at most `limit`) and returns their ids. */
export async function deleteFlowRuns(db: Database, criteria: RunCriteria, limit: number): Promise<string[]> {
  let select = db.kysely.selectFrom("flow_run").select("id");
  for (const cond of criteriaConditions(db.dialect, "flow_run", criteria)) select = select.where(cond);
  const ids = (await select.limit(limit).execute()).map((r) => r.id);
  if (ids.length > 0) await db.kysely.deleteFrom("flow_run").where("id", "in", ids).execute();
  return ids;
}

/**
 * Run counts per state in fixed time buckets of `expected_start_time`, as the UI's run
 * history chart asks for. Buckets are computed here rather than in SQL so both dialects share
 * one query.
 */
export async function runHistory(
  db: Database,
  table: "flow_run" | "task_run",
  criteria: RunCriteria,
  range: { start: string; end: string; intervalSeconds: number },
): Promise<HistoryInterval[]> {
  const start = Date.parse(range.start);
  const end = Date.parse(range.end);
  const step = range.intervalSeconds * 1000;
  const bucketCount = Math.max(0, Math.ceil((end - start) / step));
  let query = db.kysely
    .selectFrom(table)
    .select(["state_type", "state_name", "expected_start_time", "start_time", "total_run_time", "state_timestamp"])
    .where("expected_start_time", ">=", range.start)
    .where("expected_start_time", "<", range.end)
    .where("state_type", "is not", null);
  for (const cond of criteriaConditions(db.dialect, table, criteria)) query = query.where(cond);
  const rows = await query.execute();
  const buckets: Array<Map<string, { state_type: StateType; state_name: string; count_runs: number; sum_estimated_run_time: number; sum_estimated_lateness: number }>> =
    Array.from({ length: bucketCount }, () => new Map());
  const now = Date.now();
  for (const row of rows) {
    const index = Math.floor((Date.parse(row.expected_start_time!) - start) / step);
    const bucket = buckets[index];
    if (!bucket) continue;
    const key = `${row.state_type}/${row.state_name}`;
    const entry = bucket.get(key) ?? {
      state_type: row.state_type as StateType,
      state_name: row.state_name ?? "",
      count_runs: 0,
      sum_estimated_run_time: 0,
      sum_estimated_lateness: 0,
    };
    const timing = runTiming(row, now);
    entry.count_runs += 1;
    entry.sum_estimated_run_time += timing.estimated_run_time;
    entry.sum_estimated_lateness += timing.estimated_start_time_delta;
    bucket.set(key, entry);
  }
  return buckets.map((bucket, i) => ({
    interval_start: new Date(start + i * step).toISOString(),
    interval_end: new Date(Math.min(end, start + (i + 1) * step)).toISOString(),
    states: [...bucket.values()].sort((a, b) => a.state_type.localeCompare(b.state_type) || a.state_name.localeCompare(b.state_name)),
  }));
}


/**
 * The average lateness in seconds of the runs matching `criteria` (how long after their
 * expected start they started, or, for those still waiting, have been waiting), as Prefect's
 * `/flow_runs/lateness` computes it; null when no run matches.
 */
export async function averageLateness(db: Database, criteria: RunCriteria): Promise<number | null> {
  let query = db.kysely
    .selectFrom("flow_run")
    .select(["state_type", "state_timestamp", "total_run_time", "expected_start_time", "start_time"])
    .where("expected_start_time", "is not", null);
  for (const cond of criteriaConditions(db.dialect, "flow_run", criteria)) query = query.where(cond);
  const now = Date.now();
  let sum = 0;
  let count = 0;
  for (const row of await query.execute()) {
    sum += runTiming(row, now).estimated_start_time_delta;
    count += 1;
  }
  return count === 0 ? null : sum / count;
}

/** Merges `labels` into the run's labels; false when the run does not exist. */
export async function mergeFlowRunLabels(db: Database, id: string, labels: Record<string, unknown>): Promise<boolean> {
  return db.write(async (trx) => {
    let select = trx.selectFrom("flow_run").select("labels").where("id", "=", id);
    if (db.dialect.supportsRowLocks) select = select.forUpdate();
    const row = await select.executeTakeFirst();
    if (!row) return false;
    const merged = { ...fromJson<Record<string, unknown>>(row.labels, {}), ...labels };
    await trx.updateTable("flow_run").set({ labels: toJson(merged), updated: new Date().toISOString() }).where("id", "=", id).execute();
    return true;
  });
}

/** Ids of the flow runs matching `criteria`, oldest first, at most `limit`. */
export async function matchingFlowRunIds(db: Database, criteria: RunCriteria, limit: number): Promise<string[]> {
  let select = db.kysely.selectFrom("flow_run").select("id");
  for (const cond of criteriaConditions(db.dialect, "flow_run", criteria)) select = select.where(cond);
  return (await select.orderBy("id").limit(limit).execute()).map((r) => r.id);
}
