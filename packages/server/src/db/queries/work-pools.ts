import type { StatusChanges } from "../../events/status-events.js";
import {
  AGENT_POOL_TYPE,
  ConflictError,
  ObjectNotFoundError,
  SLOT_HOLDING_STATE_TYPES,
  type WorkerFlowRunResponse,
  type WorkPool,
  type WorkPoolFilter,
  type WorkPoolStatus,
  type WorkPoolStorageConfiguration,
} from "@baton/core";
import { sql, type Expression, type ExpressionBuilder, type Selectable, type SqlBool, type Updateable } from "kysely";
import type { Database, Executor } from "../database.js";
import { fromJson, newId, toBool, toJson } from "../json.js";
import type { DB, WorkPoolTable, WorkQueueTable } from "../schema.js";
import { flowRunFromRow } from "./flow-runs.js";
import { pageLimit } from "./paging.js";

/** A pool or queue polled this recently counts as READY, as Prefect's queue health policy has it. */
export const RECENT_POLL_SECONDS = 60;

const EMPTY_STORAGE: WorkPoolStorageConfiguration = {
  bundle_upload_step: null,
  bundle_execution_step: null,
  default_result_storage_block_id: null,
};

export type WorkPoolRow = Selectable<WorkPoolTable>;

/** A 404 whose message names the pool, as Prefect's does. */
export function workPoolNotFound(name: string): ObjectNotFoundError {
  return new ObjectNotFoundError(`Work pool '${name}'`, name);
}

export function workPoolFromRow(row: WorkPoolRow, activeSlots: number | undefined): WorkPool {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    description: row.description,
    type: row.type,
    base_job_template: fromJson(row.base_job_template, {}),
    is_paused: row.is_paused === 1,
    concurrency_limit: row.concurrency_limit,
    status: row.status as WorkPoolStatus | null,
    default_queue_id: row.default_queue_id,
    storage_configuration: { ...EMPTY_STORAGE, ...fromJson(row.storage_configuration, EMPTY_STORAGE) },
    active_slots: row.concurrency_limit === null ? null : (activeSlots ?? 0),
  };
}

/**
 * Pools of the agent type carry no status (nothing reports on them), as in Prefect; others
 * are PAUSED, READY when a worker is online or the pool was polled recently, else NOT_READY.
 */
export function poolStatus(type: string, paused: boolean, ready: boolean): WorkPoolStatus | null {
  if (type === AGENT_POOL_TYPE) return null;
  if (paused) return "PAUSED";
  return ready ? "READY" : "NOT_READY";
}

export function readWorkPoolRowByName(db: Executor, name: string): Promise<WorkPoolRow | undefined> {
  return db.selectFrom("work_pool").selectAll().where("name", "=", name).executeTakeFirst();
}

export async function requireWorkPoolRow(db: Executor, name: string): Promise<WorkPoolRow> {
  const row = await readWorkPoolRowByName(db, name);
  if (!row) throw workPoolNotFound(name);
  return row;
}

/** Slot-holding runs (Pending, Running, Cancelling) per pool or per queue, for the given ids. */
export async function countSlotHolders(db: Executor, column: "work_pool_id" | "work_queue_id", ids: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (ids.length === 0) return counts;
  const rows = await db
    .selectFrom("flow_run")
    .select([column, (eb) => eb.fn.countAll<number>().as("n")])
    .where(column, "in", ids)
    .where("state_type", "in", SLOT_HOLDING_STATE_TYPES)
    .groupBy(column)
    .execute();
  for (const row of rows) {
    const id = row[column];
    if (id !== null) counts.set(id, Number(row.n));
  }
  return counts;
}

/** Pools with their active slots filled in (only counted for pools that have a limit). */
export async function withActiveSlots(db: Executor, rows: readonly WorkPoolRow[]): Promise<WorkPool[]> {
  const limited = rows.filter((r) => r.concurrency_limit !== null).map((r) => r.id);
  const counts = await countSlotHolders(db, "work_pool_id", limited);
  return rows.map((row) => workPoolFromRow(row, counts.get(row.id)));
}

export async function readWorkPool(db: Executor, name: string): Promise<WorkPool> {
  const [pool] = await withActiveSlots(db, [await requireWorkPoolRow(db, name)]);
  return pool!;
}

export interface NewWorkPool {
  name: string;
  description?: string | null | undefined;
  type: string;
  base_job_template: Record<string, unknown>;
  is_paused: boolean;
  concurrency_limit?: number | null | undefined;
  storage_configuration: WorkPoolStorageConfiguration;
}

/**
 * Inserts a pool with its `default` queue (priority 1) and returns the pool's row. A name
 * already taken is a 409, as in Prefect.
 */
export async function insertWorkPool(trx: Executor, pool: NewWorkPool, now: string): Promise<WorkPoolRow> {
  if (await readWorkPoolRowByName(trx, pool.name)) throw new ConflictError(`A work pool named '${pool.name}' already exists.`);
  const id = newId();
  const queueId = newId();
  const row: WorkPoolRow = {
    id,
    created: now,
    updated: now,
    name: pool.name,
    description: pool.description ?? null,
    type: pool.type,
    base_job_template: toJson(pool.base_job_template),
    is_paused: toBool(pool.is_paused),
    concurrency_limit: pool.concurrency_limit ?? null,
    default_queue_id: queueId,
    status: poolStatus(pool.type, pool.is_paused, false),
    last_polled: null,
    storage_configuration: toJson(pool.storage_configuration),
  };
  await trx.insertInto("work_pool").values(row).execute();
  await trx
    .insertInto("work_queue")
    .values({
      id: queueId,
      created: now,
      updated: now,
      name: "default",
      description: "The work pool's default queue.",
      is_paused: 0,
      concurrency_limit: null,
      priority: 1,
      work_pool_id: id,
      last_polled: null,
      status: "NOT_READY",
    })
    .execute();
  return row;
}

export interface WorkPoolPatch {
  description?: string | null | undefined;
  is_paused?: boolean | null | undefined;
  base_job_template?: Record<string, unknown> | null | undefined;
  concurrency_limit?: number | null | undefined;
  storage_configuration?: WorkPoolStorageConfiguration | null | undefined;
}

/**
 * Applies the fields sent. Pausing sets status PAUSED; resuming sets READY when a worker is
 * online or the pool was polled recently, NOT_READY otherwise.
 */
export async function updateWorkPool(trx: Executor, row: WorkPoolRow, patch: WorkPoolPatch, now: Date, changes?: StatusChanges): Promise<void> {
  const set: Updateable<WorkPoolTable> = { updated: now.toISOString() };
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.base_job_template != null) set.base_job_template = toJson(patch.base_job_template);
  if (patch.concurrency_limit !== undefined) set.concurrency_limit = patch.concurrency_limit;
  if (patch.storage_configuration !== undefined) set.storage_configuration = toJson(patch.storage_configuration ?? EMPTY_STORAGE);
  if (patch.is_paused != null) {
    set.is_paused = toBool(patch.is_paused);
    const ready = !patch.is_paused && (polledRecently(row.last_polled, now) || (await hasOnlineWorker(trx, row.id)));
    set.status = poolStatus(row.type, patch.is_paused, ready);
    if (set.status !== row.status) changes?.pool(row.id);
  }
  await trx.updateTable("work_pool").set(set).where("id", "=", row.id).execute();
}

export function polledRecently(lastPolled: string | null, now: Date): boolean {
  return lastPolled !== null && now.getTime() - Date.parse(lastPolled) <= RECENT_POLL_SECONDS * 1000;
}

async function hasOnlineWorker(db: Executor, poolId: string): Promise<boolean> {
  const row = await db.selectFrom("worker").select("id").where("work_pool_id", "=", poolId).where("status", "=", "ONLINE").limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Deletes a pool with its queues and workers (the foreign keys cascade). Its runs and
 * deployments stay, no longer linked to a queue.
 */
export async function deleteWorkPool(trx: Executor, row: WorkPoolRow): Promise<void> {
  await trx.updateTable("flow_run").set({ work_pool_id: null, work_queue_id: null }).where("work_pool_id", "=", row.id).execute();
  await trx
    .updateTable("deployment")
    .set({ work_queue_id: null })
    .where("work_queue_id", "in", (eb) => eb.selectFrom("work_queue").select("id").where("work_pool_id", "=", row.id))
    .execute();
  await trx.deleteFrom("work_pool").where("id", "=", row.id).execute();
}

function poolConditions(eb: ExpressionBuilder<DB, "work_pool">, filter: WorkPoolFilter | null | undefined): Expression<SqlBool> | undefined {
  if (!filter) return undefined;
  const conds: Array<Expression<SqlBool>> = [];
  const anyOf = (column: "id" | "name" | "type", values: readonly string[] | null | undefined) => {
    if (values == null) return;
    conds.push(values.length === 0 ? sql<SqlBool>`1 = 0` : eb(`work_pool.${column}`, "in", values));
  };
  anyOf("id", filter.id?.any_);
  anyOf("name", filter.name?.any_);
  anyOf("type", filter.type?.any_);
  if (conds.length === 0) return undefined;
  return filter.operator === "or_" ? eb.or(conds) : eb.and(conds);
}

/** Pools matching `filter`, by name, as Prefect lists them. */
export async function filterWorkPools(db: Executor, filter: WorkPoolFilter | null | undefined, page: { limit?: number | null | undefined; offset: number }): Promise<WorkPool[]> {
  const rows = await db
    .selectFrom("work_pool")
    .selectAll()
    .where((eb) => poolConditions(eb, filter) ?? sql<SqlBool>`1 = 1`)
    .orderBy("name")
    .limit(pageLimit(page.limit))
    .offset(page.offset)
    .execute();
  return withActiveSlots(db, rows);
}

export async function countWorkPools(db: Executor, filter: WorkPoolFilter | null | undefined): Promise<number> {
  const row = await db
    .selectFrom("work_pool")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where((eb) => poolConditions(eb, filter) ?? sql<SqlBool>`1 = 1`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface ScheduledRunsQuery {
  scheduledBefore?: string | null | undefined;
  scheduledAfter?: string | null | undefined;
  limit: number;
}

/**
 * The Scheduled runs (any name: Late, AwaitingRetry...) of `queues` in `pool` that are due,
 * ordered by queue priority (lower first) then scheduled time, never more than the pool's
 * or any queue's free slots (limit minus runs that hold a slot). Paused pools and queues
 * give nothing. Reading does not claim: a worker claims a run by proposing PENDING, which
 * the concurrency rules check again under a lock.
 */
export async function scheduledFlowRuns(
  db: Executor,
  pool: WorkPoolRow,
  queues: ReadonlyArray<Selectable<WorkQueueTable>>,
  query: ScheduledRunsQuery,
): Promise<WorkerFlowRunResponse[]> {
  if (pool.is_paused === 1 || query.limit <= 0) return [];
  const open = queues.filter((q) => q.is_paused === 0);
  if (open.length === 0) return [];

  const limited = pool.concurrency_limit !== null || open.some((q) => q.concurrency_limit !== null);
  const [poolActive, queueActive] = limited
    ? await Promise.all([
        pool.concurrency_limit === null ? Promise.resolve(new Map<string, number>()) : countSlotHolders(db, "work_pool_id", [pool.id]),
        countSlotHolders(db, "work_queue_id", open.filter((q) => q.concurrency_limit !== null).map((q) => q.id)),
      ])
    : [new Map<string, number>(), new Map<string, number>()];
  const poolFree = pool.concurrency_limit === null ? Infinity : pool.concurrency_limit - (poolActive.get(pool.id) ?? 0);
  const queueFree = new Map(open.map((q) => [q.id, q.concurrency_limit === null ? Infinity : q.concurrency_limit - (queueActive.get(q.id) ?? 0)]));
  const total = Math.min(query.limit, poolFree);
  const candidates = open.filter((q) => (queueFree.get(q.id) ?? 0) > 0);
  if (total <= 0 || candidates.length === 0) return [];

  // Each queue's first `total` due runs, in one statement: nothing past that could be returned.
  let due = db
    .selectFrom("flow_run")
    .selectAll()
    .select(sql<number>`row_number() OVER (PARTITION BY flow_run.work_queue_id ORDER BY flow_run.next_scheduled_start_time, flow_run.id)`.as("queue_rank"))
    .where(
      "work_queue_id",
      "in",
      candidates.map((q) => q.id),
    )
    .where("state_type", "=", "SCHEDULED")
    .where("work_pool_id", "=", pool.id);
  if (query.scheduledBefore != null) due = due.where("next_scheduled_start_time", "<=", query.scheduledBefore);
  if (query.scheduledAfter != null) due = due.where("next_scheduled_start_time", ">=", query.scheduledAfter);
  const rows = await db.selectFrom(due.as("due")).selectAll().where("queue_rank", "<=", total).execute();

  const priority = new Map(candidates.map((q) => [q.id, q.priority]));
  rows.sort(
    (a, b) =>
      (priority.get(a.work_queue_id!) ?? 0) - (priority.get(b.work_queue_id!) ?? 0) ||
      (a.next_scheduled_start_time ?? "").localeCompare(b.next_scheduled_start_time ?? "") ||
      a.id.localeCompare(b.id),
  );
  const taken = new Map<string, number>();
  const result: WorkerFlowRunResponse[] = [];
  const nowMs = Date.now();
  for (const row of rows) {
    if (result.length >= total) break;
    const queueId = row.work_queue_id!;
    const used = taken.get(queueId) ?? 0;
    if (used >= (queueFree.get(queueId) ?? 0)) continue;
    taken.set(queueId, used + 1);
    result.push({ work_pool_id: pool.id, work_queue_id: queueId, flow_run: flowRunFromRow(row, nowMs) });
  }
  return result;
}

/**
 * Records a poll of `pool` through `queues`: their `last_polled` becomes `now` and, unless
 * paused, their status READY; so do the deployments that send runs to those queues. (The
 * foreman service turns them NOT_READY again when polls stop.)
 *
 * Each row is written by its own short statement, holding no lock while taking another, so
 * polls running at once, and claims locking the pool, cannot deadlock with this. Deployments
 * another poll is marking right now are skipped on PostgreSQL (that poll marks them).
 */
export async function recordPoll(db: Database, pool: WorkPoolRow, queues: ReadonlyArray<Selectable<WorkQueueTable>>, now: Date, changes?: StatusChanges): Promise<void> {
  const at = now.toISOString();
  const kysely = db.kysely;
  const poolSet: Updateable<WorkPoolTable> = { last_polled: at };
  if (pool.is_paused === 0 && pool.type !== AGENT_POOL_TYPE) {
    poolSet.status = "READY";
    // Which statuses this poll changes (for their events): only rows read as not READY are asked.
    if (changes && pool.status !== "READY" && (await becomeReady(db, "work_pool", [pool.id])).length > 0) changes.pool(pool.id);
  }
  if (changes) {
    const waking = queues.filter((q) => q.is_paused === 0 && q.status !== "READY").map((q) => q.id);
    for (const id of await becomeReady(db, "work_queue", waking)) changes.queue(id);
  }
  await kysely.updateTable("work_pool").set(poolSet).where("id", "=", pool.id).execute();
  for (const queue of [...queues].sort((a, b) => a.id.localeCompare(b.id))) {
    await kysely
      .updateTable("work_queue")
      .set(queue.is_paused === 0 ? { last_polled: at, status: "READY" } : { last_polled: at })
      .where("id", "=", queue.id)
      .execute();
  }
  if (queues.length === 0) return;
  const queueIds = queues.map((q) => q.id);
  const queueNames = queues.map((q) => q.name);
  const defaultPolled = pool.default_queue_id !== null && queueIds.includes(pool.default_queue_id);
  let targets = kysely
    .selectFrom("deployment")
    .select("id")
    .where((eb) =>
      eb.or([
        eb("work_queue_id", "in", queueIds),
        eb.and([
          eb("work_pool_name", "=", pool.name),
          defaultPolled ? eb.or([eb("work_queue_name", "in", queueNames), eb("work_queue_name", "is", null)]) : eb("work_queue_name", "in", queueNames),
        ]),
      ]),
    );
  if (db.dialect.supportsRowLocks) targets = targets.orderBy("id").forUpdate().skipLocked();
  if (changes) {
    const woken = await kysely
      .updateTable("deployment")
      .set({ status: "READY" })
      .where("id", "in", targets)
      .where((eb) => eb.or([eb("status", "is", null), eb("status", "!=", "READY")]))
      .returning("id")
      .execute();
    for (const { id } of woken) changes.deployment(id);
  }
  await kysely.updateTable("deployment").set({ last_polled: at, status: "READY" }).where("id", "in", targets).execute();
}

/** Sets status READY on those of `ids` that are not READY, returning which ones changed. */
export async function becomeReady(db: Database, table: "work_pool" | "work_queue" | "deployment", ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.kysely
    .updateTable(table)
    .set({ status: "READY" })
    .where("id", "in", ids)
    .where((eb) => eb.or([eb("status", "is", null), eb("status", "!=", "READY")]))
    .returning("id")
    .execute();
  return rows.map((r) => r.id);
}
