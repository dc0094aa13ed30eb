import type { StatusChanges } from "../../events/status-events.js";
import type { Deployment, DeploymentSchedule, DeploymentSort, RunCriteria, Schedule } from "@baton/core";
import { sql, type Selectable, type Updateable } from "kysely";
import type { z } from "zod";
import type { Database, Executor } from "../database.js";
import type { DialectOps } from "../dialect.js";
import { countMatching, criteriaConditions } from "../filters.js";
import { fromJson, newId, toBool, toJson } from "../json.js";
import type { DeploymentScheduleTable, DeploymentTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export function scheduleFromRow(row: Selectable<DeploymentScheduleTable>): DeploymentSchedule {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    deployment_id: row.deployment_id,
    schedule: fromJson<Schedule>(row.schedule, { interval: 3600, anchor_date: row.created, timezone: null }),
    active: row.active === 1,
    max_scheduled_runs: row.max_scheduled_runs,
    parameters: fromJson(row.parameters, {}),
    slug: row.slug,
  };
}

export function deploymentFromRow(row: Selectable<DeploymentTable>, schedules: DeploymentSchedule[]): Deployment {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    version: row.version,
    description: row.description,
    flow_id: row.flow_id,
    paused: row.paused === 1,
    schedules,
    concurrency_limit: row.concurrency_limit,
    global_concurrency_limit: null,
    concurrency_options: fromJson(row.concurrency_options, null),
    job_variables: fromJson(row.job_variables, {}),
    parameters: fromJson(row.parameters, {}),
    tags: fromJson(row.tags, []),
    labels: fromJson(row.labels, {}),
    work_queue_name: row.work_queue_name,
    work_queue_id: row.work_queue_id,
    last_polled: row.last_polled,
    parameter_openapi_schema: fromJson(row.parameter_openapi_schema, null),
    path: row.path,
    pull_steps: fromJson(row.pull_steps, null),
    entrypoint: row.entrypoint,
    storage_document_id: row.storage_document_id,
    infrastructure_document_id: row.infrastructure_document_id,
    created_by: fromJson(row.created_by, null),
    updated_by: fromJson(row.updated_by, null),
    work_pool_name: row.work_pool_name,
    status: (row.status as Deployment["status"]) ?? "NOT_READY",
    enforce_parameter_schema: row.enforce_parameter_schema === 1,
  };
}

/** The deployment fields a create or an update may set, already validated. */
export interface DeploymentFields {
  version?: string | null | undefined;
  description?: string | null | undefined;
  paused?: boolean | undefined;
  concurrency_limit?: number | null | undefined;
  concurrency_options?: { collision_strategy: string } | null | undefined;
  job_variables?: Record<string, unknown> | undefined;
  parameters?: Record<string, unknown> | undefined;
  tags?: string[] | undefined;
  labels?: Record<string, unknown> | null | undefined;
  work_queue_name?: string | null | undefined;
  /** The queue the pool and queue names resolve to (see api/deployments.ts). */
  work_queue_id?: string | null | undefined;
  work_pool_name?: string | null | undefined;
  parameter_openapi_schema?: Record<string, unknown> | null | undefined;
  enforce_parameter_schema?: boolean | undefined;
  path?: string | null | undefined;
  pull_steps?: Array<Record<string, unknown>> | null | undefined;
  entrypoint?: string | null | undefined;
  storage_document_id?: string | null | undefined;
  infrastructure_document_id?: string | null | undefined;
}

export interface ScheduleInput {
  schedule: Schedule;
  active: boolean;
  max_scheduled_runs?: number | null | undefined;
  parameters: Record<string, unknown>;
  slug?: string | null | undefined;
}

function columns(fields: DeploymentFields): Updateable<DeploymentTable> {
  const set: Updateable<DeploymentTable> = {};
  const copy = <K extends keyof DeploymentFields & keyof DeploymentTable>(key: K) => {
    if (fields[key] !== undefined) (set as Record<string, unknown>)[key] = fields[key];
  };
  copy("version");
  copy("description");
  copy("concurrency_limit");
  copy("work_queue_name");
  copy("work_queue_id");
  copy("work_pool_name");
  copy("path");
  copy("entrypoint");
  copy("storage_document_id");
  copy("infrastructure_document_id");
  if (fields.paused !== undefined) set.paused = toBool(fields.paused);
  if (fields.enforce_parameter_schema !== undefined) set.enforce_parameter_schema = toBool(fields.enforce_parameter_schema);
  if (fields.concurrency_options !== undefined) set.concurrency_options = fields.concurrency_options === null ? null : toJson(fields.concurrency_options);
  if (fields.job_variables !== undefined) set.job_variables = toJson(fields.job_variables);
  if (fields.parameters !== undefined) set.parameters = toJson(fields.parameters);
  if (fields.tags !== undefined) set.tags = toJson(fields.tags);
  if (fields.labels !== undefined) set.labels = toJson(fields.labels ?? {});
  if (fields.parameter_openapi_schema !== undefined) set.parameter_openapi_schema = fields.parameter_openapi_schema === null ? null : toJson(fields.parameter_openapi_schema);
  if (fields.pull_steps !== undefined) set.pull_steps = fields.pull_steps === null ? null : toJson(fields.pull_steps);
  return set;
}

/**
 * Creates the deployment named `name` for `flowId`, or updates the one that exists (the
 * contract's upsert); schedules, when given, replace the old ones.
 */
export async function upsertDeployment(
  trx: Executor,
  flowId: string,
  name: string,
  fields: DeploymentFields,
  schedules: ScheduleInput[] | undefined,
): Promise<{ id: string; created: boolean }> {
  const now = new Date().toISOString();
  const existing = await trx.selectFrom("deployment").select("id").where("flow_id", "=", flowId).where("name", "=", name).executeTakeFirst();
  let id: string;
  if (existing) {
    id = existing.id;
    await trx.updateTable("deployment").set({ ...columns(fields), updated: now }).where("id", "=", id).execute();
  } else {
    id = newId();
    await trx
      .insertInto("deployment")
      .values({
        id,
        created: now,
        updated: now,
        name,
        flow_id: flowId,
        version: null,
        description: null,
        paused: 0,
        concurrency_limit: null,
        concurrency_options: null,
        job_variables: "{}",
        parameters: "{}",
        tags: "[]",
        labels: "{}",
        work_queue_name: null,
        work_queue_id: null,
        work_pool_name: null,
        last_polled: null,
        parameter_openapi_schema: null,
        enforce_parameter_schema: 1,
        path: null,
        pull_steps: null,
        entrypoint: null,
        storage_document_id: null,
        infrastructure_document_id: null,
        created_by: null,
        updated_by: null,
        status: "NOT_READY",
        ...columns(fields),
      })
      .execute();
  }
  if (schedules !== undefined) await replaceSchedules(trx, id, schedules);
  return { id, created: !existing };
}

export async function updateDeployment(trx: Executor, id: string, fields: DeploymentFields, schedules: ScheduleInput[] | undefined): Promise<boolean> {
  const result = await trx
    .updateTable("deployment")
    .set({ ...columns(fields), updated: new Date().toISOString() })
    .where("id", "=", id)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) return false;
  if (schedules !== undefined) await replaceSchedules(trx, id, schedules);
  return true;
}

async function replaceSchedules(trx: Executor, deploymentId: string, schedules: ScheduleInput[]): Promise<void> {
  await trx.deleteFrom("deployment_schedule").where("deployment_id", "=", deploymentId).execute();
  await insertSchedules(trx, deploymentId, schedules);
}

/** Adds schedules to a deployment; returns them as stored, in the order given. */
export async function insertSchedules(trx: Executor, deploymentId: string, schedules: ScheduleInput[]): Promise<DeploymentSchedule[]> {
  if (schedules.length === 0) return [];
  const now = new Date().toISOString();
  const rows = schedules.map((s) => ({
    id: newId(),
    created: now,
    updated: now,
    deployment_id: deploymentId,
    schedule: toJson(s.schedule),
    active: toBool(s.active),
    max_scheduled_runs: s.max_scheduled_runs ?? null,
    parameters: toJson(s.parameters),
    slug: s.slug ?? null,
  }));
  await trx.insertInto("deployment_schedule").values(rows).execute();
  return rows.map(scheduleFromRow);
}

/** A deployment's schedules, oldest first. */
export async function readSchedules(db: Executor, deploymentId: string): Promise<DeploymentSchedule[]> {
  const rows = await db.selectFrom("deployment_schedule").selectAll().where("deployment_id", "=", deploymentId).orderBy("created").orderBy("id").execute();
  return rows.map(scheduleFromRow);
}

export async function readSchedule(db: Executor, deploymentId: string, scheduleId: string): Promise<DeploymentSchedule | undefined> {
  const row = await db.selectFrom("deployment_schedule").selectAll().where("deployment_id", "=", deploymentId).where("id", "=", scheduleId).executeTakeFirst();
  return row && scheduleFromRow(row);
}

/** The fields of one schedule to change; undefined keeps a field. */
export interface SchedulePatch {
  schedule?: Schedule | undefined;
  active?: boolean | undefined;
  max_scheduled_runs?: number | undefined;
  parameters?: Record<string, unknown> | undefined;
  slug?: string | undefined;
}

export async function updateSchedule(trx: Executor, deploymentId: string, scheduleId: string, patch: SchedulePatch): Promise<boolean> {
  const set: Updateable<DeploymentScheduleTable> = { updated: new Date().toISOString() };
  if (patch.schedule !== undefined) set.schedule = toJson(patch.schedule);
  if (patch.active !== undefined) set.active = toBool(patch.active);
  if (patch.max_scheduled_runs !== undefined) set.max_scheduled_runs = patch.max_scheduled_runs;
  if (patch.parameters !== undefined) set.parameters = toJson(patch.parameters);
  if (patch.slug !== undefined) set.slug = patch.slug;
  const result = await trx.updateTable("deployment_schedule").set(set).where("deployment_id", "=", deploymentId).where("id", "=", scheduleId).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteSchedule(trx: Executor, deploymentId: string, scheduleId: string): Promise<boolean> {
  const result = await trx.deleteFrom("deployment_schedule").where("deployment_id", "=", deploymentId).where("id", "=", scheduleId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * Holds the deployment row until the transaction ends (PostgreSQL; on SQLite the write
 * transaction excludes every other writer already), so that a change to its schedules and
 * the scheduler's insertion of its runs happen one after the other. Returns whether it exists.
 */
export async function lockDeployment(trx: Executor, dialect: DialectOps, id: string): Promise<boolean> {
  let query = trx.selectFrom("deployment").select("id").where("id", "=", id);
  // As orchestration's lockRow: serializes writers of the row without blocking inserts of runs that reference it.
  if (dialect.supportsRowLocks) query = query.forNoKeyUpdate();
  return (await query.executeTakeFirst()) !== undefined;
}

/**
 * Deletes a deployment's flow runs that are Scheduled and have never run, as Prefect does
 * whenever the runs may no longer match the deployment: only the scheduler's runs
 * (`autoScheduledOnly`), only those due after `after`, only those of some schedules. Runs
 * waiting for a concurrency slot are kept (they were claimed once). On PostgreSQL a run that
 * another transaction holds (being claimed right now) is left alone rather than waited for.
 */
export async function deleteScheduledRuns(
  trx: Executor,
  dialect: DialectOps,
  deploymentId: string,
  options: { autoScheduledOnly: boolean; after?: string | undefined; scheduleIds?: readonly string[] | undefined },
): Promise<number> {
  if (options.scheduleIds?.length === 0) return 0;
  let select = trx
    .selectFrom("flow_run")
    .select("id")
    .where("deployment_id", "=", deploymentId)
    .where("state_type", "=", "SCHEDULED")
    .where(sql<boolean>`coalesce(state_name, '') <> 'AwaitingConcurrencySlot'`)
    .where("run_count", "=", 0);
  if (options.autoScheduledOnly) select = select.where("auto_scheduled", "=", 1);
  if (options.after !== undefined) select = select.where("next_scheduled_start_time", ">", options.after);
  if (options.scheduleIds) {
    const prefixes = options.scheduleIds.map((id) => `${scheduledRunKeyPrefix(deploymentId, id)}%`);
    select = select.where((eb) => eb.or(prefixes.map((p) => eb("idempotency_key", "like", p))));
  }
  if (dialect.supportsRowLocks) select = select.forUpdate().skipLocked();
  const ids = (await select.execute()).map((r) => r.id);
  if (ids.length === 0) return 0;
  await trx.deleteFrom("flow_run").where("id", "in", ids).execute();
  return ids.length;
}

/**
 * The idempotency key of the run a schedule has at `time`: one per deployment, schedule and
 * slot, so that schedulers running at once insert each run only once.
 */
export function scheduledRunKey(deploymentId: string, scheduleId: string, time: Date): string {
  return `${scheduledRunKeyPrefix(deploymentId, scheduleId)}${time.toISOString()}`;
}

function scheduledRunKeyPrefix(deploymentId: string, scheduleId: string): string {
  return `scheduled ${deploymentId} ${scheduleId} `;
}

/** Length of `scheduled <uuid> <uuid> `, the part of a key that names the schedule. */
const SCHEDULED_KEY_PREFIX_LENGTH = "scheduled ".length + 36 + 1 + 36 + 1;

/**
 * For each active schedule of these deployments: how many of its runs are Scheduled at or
 * after `now`, and the latest of them. Schedules without such runs are missing from the map.
 * Keyed by schedule id.
 */
export async function upcomingScheduledRuns(db: Executor, deploymentIds: readonly string[], now: string): Promise<Map<string, { count: number; latest: string }>> {
  const stats = new Map<string, { count: number; latest: string }>();
  if (deploymentIds.length === 0) return stats;
  const prefix = sql<string>`substr(idempotency_key, 1, ${sql.lit(SCHEDULED_KEY_PREFIX_LENGTH)})`;
  const rows = await db
    .selectFrom("flow_run")
    .select([prefix.as("prefix"), (eb) => eb.fn.countAll<number>().as("n"), (eb) => eb.fn.max("next_scheduled_start_time").as("latest")])
    .where("deployment_id", "in", deploymentIds)
    .where("auto_scheduled", "=", 1)
    .where("state_type", "=", "SCHEDULED")
    .where("next_scheduled_start_time", ">=", now)
    .where("idempotency_key", "like", "scheduled %")
    .groupBy(prefix)
    .execute();
  for (const row of rows) {
    const scheduleId = row.prefix.trim().split(" ")[2];
    if (scheduleId && row.latest) stats.set(scheduleId, { count: Number(row.n), latest: row.latest });
  }
  return stats;
}

/** The active schedules of deployments that are not paused, a page at a time by deployment id. */
export async function activeSchedulesPage(db: Executor, afterDeploymentId: string | null, limit: number): Promise<Array<{ deployment_id: string; schedule: DeploymentSchedule }>> {
  let ids = db
    .selectFrom("deployment")
    .select("deployment.id")
    .where("deployment.paused", "=", 0)
    .where((eb) => eb.exists(eb.selectFrom("deployment_schedule").select("deployment_schedule.id").whereRef("deployment_schedule.deployment_id", "=", "deployment.id").where("deployment_schedule.active", "=", 1)));
  if (afterDeploymentId !== null) ids = ids.where("deployment.id", ">", afterDeploymentId);
  const page = (await ids.orderBy("deployment.id").limit(limit).execute()).map((r) => r.id);
  if (page.length === 0) return [];
  const rows = await db
    .selectFrom("deployment_schedule")
    .selectAll()
    .where("deployment_id", "in", page)
    .where("active", "=", 1)
    .orderBy("deployment_id")
    .orderBy("created")
    .orderBy("id")
    .execute();
  return rows.map((row) => ({ deployment_id: row.deployment_id, schedule: scheduleFromRow(row) }));
}

/**
 * Locks the deployments that are not paused among `ids` for the transaction, in id order so
 * that concurrent lockers never wait on each other in a cycle. With `skipLocked`, rows
 * another transaction holds (another scheduler) are left out instead of waited for.
 */
export async function lockSchedulableDeployments(trx: Executor, dialect: DialectOps, ids: readonly string[], skipLocked: boolean): Promise<Array<Selectable<DeploymentTable>>> {
  if (ids.length === 0) return [];
  let query = trx.selectFrom("deployment").selectAll().where("id", "in", ids).where("paused", "=", 0).orderBy("id");
  if (dialect.supportsRowLocks) query = skipLocked ? query.forNoKeyUpdate().skipLocked() : query.forNoKeyUpdate();
  return query.execute();
}

/** Records that a runner polled these deployments: they are READY, as Prefect marks them. */
export async function markDeploymentsPolled(db: Database, ids: readonly string[], now: string, changes?: StatusChanges): Promise<void> {
  if (ids.length === 0) return;
  let targets = db.kysely.selectFrom("deployment").select("id").where("id", "in", ids);
  // Concurrent pollers of the same deployments would only write the same values; skip rather than wait.
  if (db.dialect.supportsRowLocks) targets = targets.orderBy("id").forUpdate().skipLocked();
  if (changes) {
    const woken = await db.kysely
      .updateTable("deployment")
      .set({ status: "READY" })
      .where("id", "in", targets)
      .where((eb) => eb.or([eb("status", "is", null), eb("status", "!=", "READY")]))
      .returning("id")
      .execute();
    for (const { id } of woken) changes.deployment(id);
  }
  await db.kysely.updateTable("deployment").set({ last_polled: now, status: "READY" }).where("id", "in", targets).execute();
}

async function withSchedules(db: Executor, rows: Array<Selectable<DeploymentTable>>): Promise<Deployment[]> {
  if (rows.length === 0) return [];
  const scheduleRows = await db
    .selectFrom("deployment_schedule")
    .selectAll()
    .where(
      "deployment_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy("created")
    .orderBy("id")
    .execute();
  const byDeployment = new Map<string, DeploymentSchedule[]>();
  for (const row of scheduleRows) {
    const list = byDeployment.get(row.deployment_id) ?? [];
    list.push(scheduleFromRow(row));
    byDeployment.set(row.deployment_id, list);
  }
  return rows.map((row) => deploymentFromRow(row, byDeployment.get(row.id) ?? []));
}

export async function readDeployment(db: Executor, id: string): Promise<Deployment | undefined> {
  const row = await db.selectFrom("deployment").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? (await withSchedules(db, [row]))[0] : undefined;
}

export async function readDeploymentByName(db: Executor, flowName: string, name: string): Promise<Deployment | undefined> {
  const row = await db
    .selectFrom("deployment")
    .selectAll("deployment")
    .innerJoin("flow", "flow.id", "deployment.flow_id")
    .where("flow.name", "=", flowName)
    .where("deployment.name", "=", name)
    .executeTakeFirst();
  return row ? (await withSchedules(db, [row]))[0] : undefined;
}

/**
 * Deletes a deployment and, as Prefect does, its runs that are Scheduled and never ran (the
 * scheduler's and those created by hand); its other runs stay, without a deployment.
 */
export async function deleteDeployment(db: Database, id: string): Promise<boolean> {
  return db.write(async (trx) => {
    if (!(await lockDeployment(trx, db.dialect, id))) return false;
    await deleteScheduledRuns(trx, db.dialect, id, { autoScheduledOnly: false });
    const result = await trx.deleteFrom("deployment").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  });
}

/** Deletes up to `limit` deployments matching the criteria, as `deleteDeployment` each. */
export async function deleteDeployments(db: Database, criteria: RunCriteria, limit: number): Promise<string[]> {
  let select = db.kysely.selectFrom("deployment").select("id");
  for (const cond of criteriaConditions(db.dialect, "deployment", criteria)) select = select.where(cond);
  const ids = (await select.orderBy("id").limit(limit).execute()).map((r) => r.id);
  const deleted: string[] = [];
  for (const id of ids) if (await deleteDeployment(db, id)) deleted.push(id);
  return deleted;
}

type DeploymentSortKey = z.infer<typeof DeploymentSort>;
const SORTS: Record<DeploymentSortKey, ["created" | "updated" | "name", "asc" | "desc"]> = {
  CREATED_DESC: ["created", "desc"],
  UPDATED_DESC: ["updated", "desc"],
  NAME_ASC: ["name", "asc"],
  NAME_DESC: ["name", "desc"],
};

export async function filterDeployments(
  db: Database,
  criteria: RunCriteria,
  page: { sort: DeploymentSortKey; limit?: number | null | undefined; offset: number },
): Promise<Deployment[]> {
  const [column, direction] = SORTS[page.sort];
  let query = db.kysely.selectFrom("deployment").selectAll();
  for (const cond of criteriaConditions(db.dialect, "deployment", criteria)) query = query.where(cond);
  const rows = await query.orderBy(column, direction).orderBy("id").limit(pageLimit(page.limit)).offset(page.offset).execute();
  return withSchedules(db.kysely, rows);
}

export function countDeployments(db: Database, criteria: RunCriteria): Promise<number> {
  return countMatching(db, "deployment", criteria);
}
