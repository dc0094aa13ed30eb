import type { StatusChanges } from "../../events/status-events.js";
import {
  AGENT_POOL_TYPE,
  ConflictError,
  ObjectNotFoundError,
  SLOT_HOLDING_STATE_TYPES,
  type FlowRunSlotSummary,
  type WorkQueue,
  type WorkQueueFilter,
  type WorkQueueStatus,
  type WorkQueueStatusDetail,
} from "@baton/core";
import { sql, type Expression, type ExpressionBuilder, type Selectable, type SqlBool, type Updateable } from "kysely";
import { escapeLike } from "../dialect.js";
import type { Database, Executor } from "../database.js";
import { newId, toBool } from "../json.js";
import type { DB, WorkQueueTable } from "../schema.js";
import { pageLimit } from "./paging.js";
import { countSlotHolders, insertWorkPool, polledRecently, readWorkPoolRowByName, RECENT_POLL_SECONDS, workPoolNotFound, type WorkPoolRow } from "./work-pools.js";

export type WorkQueueRow = Selectable<WorkQueueTable>;

/** The pool `POST /work_queues/` puts queues in, created on first use as Prefect does. */
export const AGENT_POOL_NAME = "default-agent-pool";

/** A 404 whose message names the queue. */
export function workQueueNotFound(id: string): ObjectNotFoundError {
  return new ObjectNotFoundError(`Work queue '${id}'`, id);
}

export function workQueueFromRow(row: WorkQueueRow, poolName: string | null, activeSlots: number | undefined): WorkQueue {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    description: row.description,
    is_paused: row.is_paused === 1,
    concurrency_limit: row.concurrency_limit,
    priority: row.priority,
    work_pool_id: row.work_pool_id,
    filter: null,
    last_polled: row.last_polled,
    work_pool_name: poolName,
    status: row.status as WorkQueueStatus | null,
    active_slots: row.concurrency_limit === null ? null : (activeSlots ?? 0),
  };
}

/** Queues with their pool's name and their active slots (counted for queues with a limit). */
export async function withQueueDetails(db: Executor, rows: readonly WorkQueueRow[]): Promise<WorkQueue[]> {
  if (rows.length === 0) return [];
  const poolIds = [...new Set(rows.map((r) => r.work_pool_id))];
  const [pools, counts] = await Promise.all([
    db.selectFrom("work_pool").select(["id", "name"]).where("id", "in", poolIds).execute(),
    countSlotHolders(
      db,
      "work_queue_id",
      rows.filter((r) => r.concurrency_limit !== null).map((r) => r.id),
    ),
  ]);
  const names = new Map(pools.map((p) => [p.id, p.name]));
  return rows.map((row) => workQueueFromRow(row, names.get(row.work_pool_id) ?? null, counts.get(row.id)));
}

export async function readWorkQueue(db: Executor, row: WorkQueueRow): Promise<WorkQueue> {
  const [queue] = await withQueueDetails(db, [row]);
  return queue!;
}

export function readWorkQueueRow(db: Executor, id: string): Promise<WorkQueueRow | undefined> {
  return db.selectFrom("work_queue").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function requireWorkQueueRow(db: Executor, id: string): Promise<WorkQueueRow> {
  const row = await readWorkQueueRow(db, id);
  if (!row) throw workQueueNotFound(id);
  return row;
}

/** The queue `name` of the pool `poolName`: 404 naming the pool or the queue when absent. */
export async function requireQueueInPool(db: Executor, poolName: string, name: string): Promise<{ pool: WorkPoolRow; queue: WorkQueueRow }> {
  const pool = await readWorkPoolRowByName(db, poolName);
  if (!pool) throw workPoolNotFound(poolName);
  const queue = await db.selectFrom("work_queue").selectAll().where("work_pool_id", "=", pool.id).where("name", "=", name).executeTakeFirst();
  if (!queue) throw workQueueNotFound(`${poolName}/${name}`);
  return { pool, queue };
}

/** A pool's queues, highest priority (lowest number) first. */
export function readPoolQueues(db: Executor, poolId: string): Promise<WorkQueueRow[]> {
  return db.selectFrom("work_queue").selectAll().where("work_pool_id", "=", poolId).orderBy("priority").orderBy("name").execute();
}

/** The queues of a pool named by a worker's poll, in the order given; 404 for an unknown one. */
export async function requireNamedQueues(db: Executor, pool: WorkPoolRow, names: readonly string[]): Promise<WorkQueueRow[]> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return [];
  const rows = await db.selectFrom("work_queue").selectAll().where("work_pool_id", "=", pool.id).where("name", "in", unique).execute();
  const byName = new Map(rows.map((r) => [r.name, r]));
  return unique.map((name) => {
    const row = byName.get(name);
    if (!row) throw workQueueNotFound(`${pool.name}/${name}`);
    return row;
  });
}

/**
 * Holds the pool's row until the transaction ends (PostgreSQL), so queue priorities are
 * renumbered by one writer at a time. Claims lock the pool, then the queue: so does this.
 */
async function lockPool(trx: Executor, db: Database, poolId: string): Promise<void> {
  if (db.dialect.supportsRowLocks) await trx.selectFrom("work_pool").select("id").where("id", "=", poolId).forUpdate().execute();
}

/**
 * Renumbers a pool's queue priorities so that each queue in `wanted` gets its priority and
 * the others keep their order, shifted only as far as needed to stay distinct (Prefect's
 * `bulk_update_work_queue_priorities`).
 */
async function renumberPriorities(trx: Executor, poolId: string, wanted: ReadonlyMap<string, number>): Promise<void> {
  const queues = await trx.selectFrom("work_queue").select(["id", "priority"]).where("work_pool_id", "=", poolId).orderBy("priority").orderBy("id").execute();
  const order = queues.filter((q) => !wanted.has(q.id)).map((q) => ({ ...q }));
  const moved = queues.filter((q) => wanted.has(q.id)).map((q) => ({ id: q.id, priority: wanted.get(q.id)! }));
  for (const queue of moved.sort((a, b) => a.priority - b.priority)) {
    const at = order.findIndex((q) => q.priority >= queue.priority);
    if (at === -1) order.push(queue);
    else order.splice(at, 0, queue);
  }
  let last = 0;
  const before = new Map(queues.map((q) => [q.id, q.priority]));
  for (const queue of order) {
    if (queue.priority <= last) queue.priority = last + 1;
    last = queue.priority;
    if (before.get(queue.id) !== queue.priority) {
      await trx.updateTable("work_queue").set({ priority: queue.priority }).where("id", "=", queue.id).execute();
    }
  }
}

export interface NewWorkQueue {
  name: string;
  description: string;
  is_paused: boolean;
  concurrency_limit?: number | null | undefined;
  priority?: number | null | undefined;
}

/**
 * Adds a queue to a pool. Without a priority it takes the first one free (1, 2, ...); with
 * one, queues at or after that priority move down. A name already in the pool is a 409.
 *
 * The pool is not locked here: callers may hold a deployment's lock, and claims lock the
 * pool before the deployment. Two queues created at once may share a priority, which only
 * ties their order (by name).
 */
export async function insertWorkQueue(trx: Executor, _db: Database, pool: WorkPoolRow, queue: NewWorkQueue, now: string): Promise<WorkQueueRow> {
  const clash = await trx.selectFrom("work_queue").select("id").where("work_pool_id", "=", pool.id).where("name", "=", queue.name).executeTakeFirst();
  if (clash) throw new ConflictError(`A work queue named '${queue.name}' already exists in work pool '${pool.name}'.`);
  const taken = (await trx.selectFrom("work_queue").select("priority").where("work_pool_id", "=", pool.id).execute()).map((r) => r.priority).sort((a, b) => a - b);
  const firstFree = taken.findIndex((p, i) => p !== i + 1);
  const row: WorkQueueRow = {
    id: newId(),
    created: now,
    updated: now,
    name: queue.name,
    description: queue.description,
    is_paused: toBool(queue.is_paused),
    concurrency_limit: queue.concurrency_limit ?? null,
    priority: queue.priority ?? (firstFree === -1 ? (taken.at(-1) ?? 0) + 1 : firstFree + 1),
    work_pool_id: pool.id,
    last_polled: null,
    status: queue.is_paused ? "PAUSED" : "NOT_READY",
  };
  await trx.insertInto("work_queue").values(row).execute();
  if (queue.priority != null) await renumberPriorities(trx, pool.id, new Map([[row.id, queue.priority]]));
  return (await readWorkQueueRow(trx, row.id))!;
}

/**
 * `POST /work_queues/`: a queue outside any pool the caller names goes to the agent pool,
 * which is created (with its `default` queue) the first time.
 */
export async function agentPool(trx: Executor, now: string): Promise<WorkPoolRow> {
  const existing = await readWorkPoolRowByName(trx, AGENT_POOL_NAME);
  if (existing) return existing;
  return insertWorkPool(
    trx,
    {
      name: AGENT_POOL_NAME,
      description: "A work pool for queues created without one.",
      type: AGENT_POOL_TYPE,
      base_job_template: {},
      is_paused: false,
      storage_configuration: { bundle_upload_step: null, bundle_execution_step: null, default_result_storage_block_id: null },
    },
    now,
  );
}

/**
 * `GET /work_queues/name/{name}`: the queue of the agent pool, or when there is no agent
 * pool, the oldest queue of that name in any pool (Prefect's fallback).
 */
export async function readWorkQueueRowByName(db: Executor, name: string): Promise<WorkQueueRow | undefined> {
  const agent = await readWorkPoolRowByName(db, AGENT_POOL_NAME);
  let query = db.selectFrom("work_queue").selectAll().where("name", "=", name);
  if (agent) query = query.where("work_pool_id", "=", agent.id);
  return query.orderBy("created").orderBy("id").executeTakeFirst();
}

export interface WorkQueuePatch {
  name?: string | null | undefined;
  description?: string | null | undefined;
  is_paused?: boolean | undefined;
  concurrency_limit?: number | null | undefined;
  priority?: number | null | undefined;
  last_polled?: string | null | undefined;
}

/**
 * Applies the fields sent. Pausing sets status PAUSED; resuming a paused queue makes it
 * READY if it was polled recently, NOT_READY otherwise. A new name taken in the pool is a 409.
 */
export async function updateWorkQueue(trx: Executor, db: Database, row: WorkQueueRow, patch: WorkQueuePatch, now: Date, changes?: StatusChanges): Promise<void> {
  await lockPool(trx, db, row.work_pool_id);
  const set: Updateable<WorkQueueTable> = { updated: now.toISOString() };
  if (patch.name != null && patch.name !== row.name) {
    const clash = await trx.selectFrom("work_queue").select("id").where("work_pool_id", "=", row.work_pool_id).where("name", "=", patch.name).executeTakeFirst();
    if (clash) throw new ConflictError(`A work queue named '${patch.name}' already exists in this work pool.`);
    set.name = patch.name;
  }
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.concurrency_limit !== undefined) set.concurrency_limit = patch.concurrency_limit;
  if (patch.last_polled !== undefined) set.last_polled = patch.last_polled;
  if (patch.is_paused !== undefined) {
    set.is_paused = toBool(patch.is_paused);
    if (patch.is_paused) set.status = "PAUSED";
    else if (row.status === "PAUSED") {
      const lastPolled = patch.last_polled !== undefined ? patch.last_polled : row.last_polled;
      set.status = polledRecently(lastPolled, now) ? "READY" : "NOT_READY";
    }
  }
  if (set.status !== undefined && set.status !== row.status) changes?.queue(row.id);
  await trx.updateTable("work_queue").set(set).where("id", "=", row.id).execute();
  if (patch.priority != null && patch.priority !== row.priority) {
    await renumberPriorities(trx, row.work_pool_id, new Map([[row.id, patch.priority]]));
  }
}

/**
 * Deletes a queue; its runs and deployments stay, unlinked. A pool's default queue cannot go
 * (409). Rows are taken in the order a claim takes them (runs, then the queue, then
 * deployments), so a delete and a claim wait for each other instead of deadlocking.
 */
export async function deleteWorkQueue(trx: Executor, _db: Database, row: WorkQueueRow): Promise<void> {
  const pool = await trx.selectFrom("work_pool").select(["default_queue_id", "name"]).where("id", "=", row.work_pool_id).executeTakeFirst();
  if (pool?.default_queue_id === row.id) throw new ConflictError(`Can't delete the default queue of work pool '${pool.name}'.`);
  await trx.updateTable("flow_run").set({ work_queue_id: null }).where("work_queue_id", "=", row.id).execute();
  await trx.deleteFrom("work_queue").where("id", "=", row.id).execute();
  await trx.updateTable("deployment").set({ work_queue_id: null }).where("work_queue_id", "=", row.id).execute();
}

function queueConditions(eb: ExpressionBuilder<DB, "work_queue">, filter: WorkQueueFilter | null | undefined): Expression<SqlBool> | undefined {
  if (!filter) return undefined;
  const conds: Array<Expression<SqlBool>> = [];
  const anyOf = (column: "id" | "name", values: readonly string[] | null | undefined) => {
    if (values == null) return;
    conds.push(values.length === 0 ? sql<SqlBool>`1 = 0` : eb(`work_queue.${column}`, "in", values));
  };
  anyOf("id", filter.id?.any_);
  anyOf("name", filter.name?.any_);
  const prefixes = filter.name?.startswith_;
  if (prefixes != null) {
    conds.push(
      prefixes.length === 0
        ? sql<SqlBool>`1 = 0`
        : eb.or(prefixes.map((p) => sql<SqlBool>`lower(work_queue.name) LIKE ${`${escapeLike(p.toLowerCase())}%`} ESCAPE '\\'`)),
    );
  }
  if (conds.length === 0) return undefined;
  return filter.operator === "or_" ? eb.or(conds) : eb.and(conds);
}

/**
 * Queues matching `filter`: of one pool by priority, or of every pool by name (the
 * `/work_queues/filter` order in Prefect).
 */
export async function filterWorkQueues(
  db: Executor,
  poolId: string | undefined,
  filter: WorkQueueFilter | null | undefined,
  page: { limit?: number | null | undefined; offset: number },
): Promise<WorkQueue[]> {
  let query = db
    .selectFrom("work_queue")
    .selectAll()
    .where((eb) => queueConditions(eb, filter) ?? sql<SqlBool>`1 = 1`);
  query = poolId === undefined ? query.orderBy("name").orderBy("id") : query.where("work_pool_id", "=", poolId).orderBy("priority").orderBy("name");
  const rows = await query.limit(pageLimit(page.limit)).offset(page.offset).execute();
  return withQueueDetails(db, rows);
}

/**
 * A queue's health as Prefect judges it: no Late runs and a poll in the last
 * RECENT_POLL_SECONDS seconds.
 */
export async function workQueueStatusDetail(db: Executor, row: WorkQueueRow, now: Date): Promise<WorkQueueStatusDetail> {
  const late = await db
    .selectFrom("flow_run")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("work_queue_id", "=", row.id)
    .where("state_type", "=", "SCHEDULED")
    .where("state_name", "=", "Late")
    .executeTakeFirstOrThrow();
  const lateRuns = Number(late.n);
  const policy = { maximum_late_runs: 0, maximum_seconds_since_last_polled: RECENT_POLL_SECONDS };
  return {
    healthy: lateRuns <= policy.maximum_late_runs && polledRecently(row.last_polled, now),
    late_runs_count: lateRuns,
    last_polled: row.last_polled,
    health_check_policy: policy,
  };
}

/**
 * The runs holding slots in the given queues, oldest state first, at most `perQueue` per
 * queue (all of them when undefined), with the offset applied within each queue.
 */
export async function slotHolders(
  db: Executor,
  queueIds: readonly string[],
  page: { perQueue: number; offset?: number },
  now: Date,
): Promise<Map<string, FlowRunSlotSummary[]>> {
  const byQueue = new Map<string, FlowRunSlotSummary[]>();
  if (queueIds.length === 0 || page.perQueue <= 0) return byQueue;
  const offset = page.offset ?? 0;
  const ranked = db
    .selectFrom("flow_run")
    .select(["id", "name", "state_type", "state_name", "start_time", "state_timestamp", "work_queue_id"])
    .select(sql<number>`row_number() OVER (PARTITION BY flow_run.work_queue_id ORDER BY flow_run.state_timestamp, flow_run.id)`.as("queue_rank"))
    .where("work_queue_id", "in", queueIds)
    .where("state_type", "in", SLOT_HOLDING_STATE_TYPES);
  const rows = await db
    .selectFrom(ranked.as("ranked"))
    .selectAll()
    .where("queue_rank", ">", offset)
    .where("queue_rank", "<=", offset + page.perQueue)
    .orderBy("queue_rank")
    .execute();
  for (const row of rows) {
    const list = byQueue.get(row.work_queue_id!) ?? [];
    list.push({
      id: row.id,
      name: row.name,
      state_type: row.state_type as FlowRunSlotSummary["state_type"],
      state_name: row.state_name,
      start_time: row.start_time,
      state_timestamp: row.state_timestamp,
      time_in_current_state: row.state_timestamp === null ? null : Math.max(0, (now.getTime() - Date.parse(row.state_timestamp)) / 1000),
    });
    byQueue.set(row.work_queue_id!, list);
  }
  return byQueue;
}

export interface WorkPlacement {
  work_pool_id: string;
  work_pool_name: string;
  work_queue_id: string;
  work_queue_name: string;
}

/**
 * Where a new flow run goes: the named queue of the named pool, or the pool's default queue
 * when no queue is named. An unknown pool or queue is a 404 naming it. Without a pool name
 * nothing is resolved (a bare queue name is kept as a label, as before work pools).
 */
export async function resolveWorkPlacement(
  db: Executor,
  poolName: string | null | undefined,
  queueName: string | null | undefined,
): Promise<WorkPlacement | undefined> {
  if (poolName == null) return undefined;
  const pool = await readWorkPoolRowByName(db, poolName);
  if (!pool) throw workPoolNotFound(poolName);
  const queue =
    queueName != null
      ? await db.selectFrom("work_queue").select(["id", "name"]).where("work_pool_id", "=", pool.id).where("name", "=", queueName).executeTakeFirst()
      : pool.default_queue_id !== null
        ? await db.selectFrom("work_queue").select(["id", "name"]).where("id", "=", pool.default_queue_id).executeTakeFirst()
        : undefined;
  if (!queue) throw workQueueNotFound(`${poolName}/${queueName ?? "default"}`);
  return { work_pool_id: pool.id, work_pool_name: pool.name, work_queue_id: queue.id, work_queue_name: queue.name };
}
