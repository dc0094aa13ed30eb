import type { RunCriteria, TaskRun, TaskRunPolicy, TaskRunSort } from "@baton/core";
import type { Selectable } from "kysely";
import type { z } from "zod";
import type { Database, Executor } from "../database.js";
import { countMatching, criteriaConditions } from "../filters.js";
import { fromJson, newId, toJson } from "../json.js";
import type { TaskRunTable } from "../schema.js";
import { pageLimit } from "./paging.js";
import { runState, runStateType, runTiming, taskRunPolicy } from "./runs.js";

export function taskRunFromRow(row: Selectable<TaskRunTable>, now = Date.now()): TaskRun {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    flow_run_id: row.flow_run_id,
    task_key: row.task_key,
    dynamic_key: row.dynamic_key,
    cache_key: row.cache_key,
    cache_expiration: row.cache_expiration,
    task_version: row.task_version,
    empirical_policy: taskRunPolicy(row),
    tags: fromJson(row.tags, []),
    labels: fromJson(row.labels, {}),
    state_id: row.state_id,
    task_inputs: fromJson(row.task_inputs, {}),
    state_type: runStateType(row),
    state_name: row.state_name,
    run_count: row.run_count,
    flow_run_run_count: row.flow_run_run_count,
    expected_start_time: row.expected_start_time,
    next_scheduled_start_time: row.next_scheduled_start_time,
    start_time: row.start_time,
    end_time: row.end_time,
    total_run_time: row.total_run_time,
    ...runTiming(row, now),
    state: runState(row),
  };
}

export interface NewTaskRun {
  id?: string | null | undefined;
  name: string;
  flow_run_id?: string | null | undefined;
  task_key: string;
  dynamic_key: string;
  cache_key?: string | null | undefined;
  cache_expiration?: string | null | undefined;
  task_version?: string | null | undefined;
  empirical_policy: TaskRunPolicy;
  tags: string[];
  labels?: Record<string, unknown> | null | undefined;
  task_inputs: Record<string, unknown>;
}

/** A new task run's row, without a state yet (see orchestration/create-run.ts). */
export function newTaskRunRow(run: NewTaskRun, now: string): Selectable<TaskRunTable> {
  return {
    id: run.id ?? newId(),
    created: now,
    updated: now,
    name: run.name,
    flow_run_id: run.flow_run_id ?? null,
    task_key: run.task_key,
    dynamic_key: run.dynamic_key,
    cache_key: run.cache_key ?? null,
    cache_expiration: run.cache_expiration ?? null,
    task_version: run.task_version ?? null,
    empirical_policy: toJson(run.empirical_policy),
    tags: toJson(run.tags),
    labels: toJson(run.labels ?? {}),
    task_inputs: toJson(run.task_inputs),
    flow_run_run_count: 0,
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
  };
}

export async function readTaskRunRow(db: Executor, id: string): Promise<Selectable<TaskRunTable> | undefined> {
  return db.selectFrom("task_run").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function readTaskRun(db: Executor, id: string): Promise<TaskRun | undefined> {
  const row = await readTaskRunRow(db, id);
  return row && taskRunFromRow(row);
}

export async function updateTaskRun(db: Executor, id: string, patch: { name?: string | null | undefined }): Promise<boolean> {
  const result = await db
    .updateTable("task_run")
    .set({ updated: new Date().toISOString(), ...(patch.name != null ? { name: patch.name } : {}) })
    .where("id", "=", id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteTaskRun(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("task_run").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

type TaskRunSortKey = z.infer<typeof TaskRunSort>;
const TASK_RUN_SORTS: Record<TaskRunSortKey, [keyof TaskRunTable, "asc" | "desc"]> = {
  ID_DESC: ["id", "desc"],
  EXPECTED_START_TIME_ASC: ["expected_start_time", "asc"],
  EXPECTED_START_TIME_DESC: ["expected_start_time", "desc"],
  NAME_ASC: ["name", "asc"],
  NAME_DESC: ["name", "desc"],
  NEXT_SCHEDULED_START_TIME_ASC: ["next_scheduled_start_time", "asc"],
  END_TIME_DESC: ["end_time", "desc"],
};

export async function filterTaskRuns(
  db: Database,
  criteria: RunCriteria,
  page: { sort: TaskRunSortKey; limit?: number | null | undefined; offset: number },
): Promise<TaskRun[]> {
  const [column, direction] = TASK_RUN_SORTS[page.sort];
  let query = db.kysely.selectFrom("task_run").selectAll();
  for (const cond of criteriaConditions(db.dialect, "task_run", criteria)) query = query.where(cond);
  // NULLs sort as PostgreSQL sorts them by default, on both databases.
  const rows = await query
    .orderBy(column, (o) => (direction === "asc" ? o.asc().nullsLast() : o.desc().nullsFirst()))
    .orderBy("id").limit(pageLimit(page.limit)).offset(page.offset).execute();
  const now = Date.now();
  return rows.map((row) => taskRunFromRow(row, now));
}

export function countTaskRuns(db: Database, criteria: RunCriteria): Promise<number> {
  return countMatching(db, "task_run", criteria);
}
